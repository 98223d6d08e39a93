"""Turning one image file into the bytes im2rec would pack for it.

im2rec reads with OpenCV and writes with OpenCV; we read and write with Pillow (its libjpeg-turbo
uses SIMD, OpenCV's wheel does not) and reproduce OpenCV's geometry and colour handling:
- EXIF orientation applied (IMREAD_COLOR / IMREAD_GRAYSCALE), not with --color -1;
- grey, palette, CMYK and alpha images become 3-channel colour (alpha dropped, not composited);
- 16-bit samples keep their high byte;
- --center-crop takes the centre square, margin (long - short) // 2;
- --resize N makes the shorter side N and the longer floor(N * long / short), from the full size.
A JPEG whose output is smaller than itself is decoded at 1/2, 1/4 or 1/8 scale (DCT scaling), so
most of the decoding work is never done.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import RecpackError

if TYPE_CHECKING:
    from PIL import Image

_IMAGE = None  # PIL.Image once loaded: the packing parent, listing and --help never need Pillow
_TRANSPOSE_FOR_ORIENTATION: dict = {}


def _pil():
    """PIL.Image, imported and configured on first use."""
    global _IMAGE
    if _IMAGE is None:
        from PIL import Image, ImageFile

        # A decompression bomb warning (over Pillow's MAX_IMAGE_PIXELS) is a reason to skip, not a warning.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        _TRANSPOSE_FOR_ORIENTATION.update({
            2: Image.Transpose.FLIP_LEFT_RIGHT,
            3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270,
            7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90,
        })
        _IMAGE = Image
    return _IMAGE


def preload() -> None:
    """Import Pillow and its format plugins now (a worker does it while the parent reads the lists)."""
    _pil().preinit()


_ALPHA_DROPPED = {"RGBA": "RGB", "RGBa": "RGB", "LA": "L", "La": "L", "PA": "RGB"}


class BadImage(RecpackError):
    """An image that cannot be packed; the message is the reason shown to the user."""


@dataclass(frozen=True)
class PackOptions:
    resize: int = 0
    center_crop: bool = False
    quality: int = 95
    encoding: str = ".jpg"
    color: int = 1
    pass_through: bool = False


def output_size(width: int, height: int, options: PackOptions) -> tuple[int, int]:
    """The packed image's (width, height) for an upright source of this size, as im2rec computes it."""
    if options.center_crop:
        width = height = min(width, height)
    if options.resize:
        if height > width:
            return options.resize, height * options.resize // width
        return width * options.resize // height, options.resize
    return width, height


def _center_crop_box(width: int, height: int) -> tuple[int, int, int, int]:
    if height > width:
        margin = (height - width) // 2
        return 0, margin, width, margin + width
    margin = (width - height) // 2
    return margin, 0, margin + height, height


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception:  # a broken EXIF block is ignored, as OpenCV ignores it
        return 1


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit integer greys keep their high byte, as OpenCV does for 8-bit reads."""
    if image.mode.startswith("I"):
        # point() truncates, so v * (1/256) is exactly v >> 8.
        return image.point(lambda value: value * (1 / 256)).convert("L")
    return image


def _convert_colour(image: Image.Image, color: int, encoding: str) -> Image.Image:
    mode = image.mode
    if color == 1:
        if mode == "RGB":
            return image
        image = _to_8bit(image)
        return image.convert("RGB")
    if color == 0:
        if mode == "L":
            return image
        image = _to_8bit(image)
        return image.convert("L")
    # color == -1: the file's own channels (IMREAD_UNCHANGED); JPEG cannot hold alpha.
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("1", "CMYK", "YCbCr"):
        image = image.convert("RGB" if mode != "1" else "L")
    if encoding == ".jpg":
        if image.mode in _ALPHA_DROPPED:
            image = image.convert(_ALPHA_DROPPED[image.mode])
        elif image.mode.startswith("I"):
            raise BadImage(f"a {image.mode} (16/32-bit) image cannot be encoded as JPEG; "
                           "use --encoding .png or --color 1")
    return image


def _open(path: str) -> tuple[Image.Image, int]:
    Image = _pil()
    try:
        size = os.stat(path).st_size
        if size == 0:
            raise BadImage("empty file")
        image = Image.open(path)
    except BadImage:
        raise
    except FileNotFoundError:
        raise BadImage("file not found") from None
    except IsADirectoryError:
        raise BadImage("is a folder, not a file") from None
    except PermissionError:
        raise BadImage("permission denied") from None
    except Image.DecompressionBombError as exc:
        raise BadImage(f"too many pixels (decompression bomb guard): {exc}") from None
    except Image.DecompressionBombWarning as exc:
        raise BadImage(f"too many pixels (decompression bomb guard): {exc}") from None
    except Image.UnidentifiedImageError:
        raise BadImage("not an image (format not recognised)") from None
    except OSError as exc:
        raise BadImage(f"cannot read: {exc.strerror or exc}") from None
    return image, size


def _load(image: Image.Image) -> None:
    Image = _pil()
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise BadImage(f"too many pixels (decompression bomb guard): {exc}") from None
    except Image.DecompressionBombWarning as exc:
        raise BadImage(f"too many pixels (decompression bomb guard): {exc}") from None
    except OSError as exc:
        text = str(exc)
        if "truncated" in text or "broken data stream" in text or "premature end" in text.lower():
            raise BadImage(f"truncated image data ({text})") from None
        raise BadImage(f"corrupt image data ({text})") from None
    except (SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        raise BadImage(f"corrupt image data ({exc})") from None


def _encode(image: Image.Image, options: PackOptions) -> bytes:
    buffer = io.BytesIO()
    if options.encoding == ".png":
        image.save(buffer, "PNG", compress_level=min(max(options.quality, 0), 9))
    else:
        image.save(buffer, "JPEG", quality=options.quality)
    return buffer.getvalue()


def transform(path: str, options: PackOptions) -> tuple[bytes, int, int]:
    """The encoded image im2rec would pack for `path`, with its width and height."""
    if options.pass_through:
        return _pass_through(path)
    Image = _pil()
    image, _ = _open(path)
    with image:
        width, height = image.size
        orientation = _orientation(image) if options.color != -1 else 1
        upright = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
        target = output_size(*upright, options)
        crop = _center_crop_box(*upright) if options.center_crop else (0, 0, *upright)
        scale = 1
        if image.format == "JPEG" and options.color != -1:
            region_w, region_h = crop[2] - crop[0], crop[3] - crop[1]
            for candidate in (8, 4, 2):
                if region_w // candidate >= target[0] and region_h // candidate >= target[1]:
                    scale = candidate
                    break
            draft_mode = "L" if options.color == 0 else "RGB"
            request = (max(1, width // scale), max(1, height // scale))
            drafted = image.draft(draft_mode, request if scale > 1 else None)
            if drafted is not None and drafted[1] is not None and scale > 1:
                scale = round(width / drafted[1][2])
            elif drafted is None:
                scale = 1
        _load(image)
        picture = image
        if orientation in _TRANSPOSE_FOR_ORIENTATION:
            picture = picture.transpose(_TRANSPOSE_FOR_ORIENTATION[orientation])
        picture = _convert_colour(picture, options.color, options.encoding)
        if options.resize:
            box = tuple(v / scale for v in crop)
            if box != (0, 0, *picture.size) or picture.size != target:
                picture = picture.resize(target, Image.Resampling.BILINEAR, box=box)
        elif options.center_crop:
            picture = picture.crop(crop)
        data = _encode(picture, options)
        return data, picture.size[0], picture.size[1]


def _looks_complete(data: bytes, image_format: str | None) -> bool:
    tail = data.rstrip(b"\0")
    if image_format == "JPEG":
        return tail.endswith(b"\xff\xd9")
    if image_format == "PNG":
        return b"IEND" in tail[-12:]
    return False


def _pass_through(path: str) -> tuple[bytes, int, int]:
    """The file's own bytes, after checking that it is a whole image (cheaply when possible)."""
    image, _ = _open(path)
    with image:
        width, height = image.size
        image_format = image.format
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise BadImage(f"cannot read: {exc.strerror}") from None
    if not _looks_complete(data, image_format):
        # No end marker where one is expected: decode it fully to tell truncation from trailing bytes.
        with _pil().open(io.BytesIO(data)) as probe:
            _load(probe)
    return data, width, height


_TAIL = 4096  # enough of a file's end to find its end marker past any zero padding


def check_pass_through(path: str) -> tuple[int, int]:
    """(width, height) of a file --pass-through may pack as it is, read only at its header and its end
    when it ends as a whole image should. The kernel is asked to read the rest ahead, for the process
    that copies the bytes (the packing parent), so the disk stays busy."""
    image, size = _open(path)
    with image:
        width, height = image.size
        image_format = image.format
    try:
        with open(path, "rb", buffering=0) as f:
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_WILLNEED)
            f.seek(max(0, size - _TAIL))
            tail = f.read()
    except OSError as exc:
        raise BadImage(f"cannot read: {exc.strerror}") from None
    if not _looks_complete(tail, image_format):
        _pass_through(path)  # the whole check: raises BadImage for a truncated file
    return width, height


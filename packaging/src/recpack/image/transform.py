"""Turning one image file into the bytes im2rec would pack for it.

im2rec reads with OpenCV and writes with OpenCV; we read and write with Pillow (its libjpeg-turbo
uses SIMD, OpenCV's wheel does not) and reproduce OpenCV's geometry and colour handling:
- EXIF orientation applied (IMREAD_COLOR / IMREAD_GRAYSCALE) to JPEG and PNG, not with --color -1;
- grey, palette, CMYK and alpha images become 3-channel colour (alpha dropped, not composited);
- 16-bit samples keep their high byte;
- --center-crop takes the centre square, margin (long - short) // 2;
- --resize N makes the shorter side N and the longer floor(N * long / short), from the full size.
A JPEG whose output is smaller than itself is decoded at 1/8, 1/4, 3/8 or 1/2 scale (DCT scaling), the
smallest that still covers the output, so most of the decoding work is never done.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from ..errors import RecpackError

if TYPE_CHECKING:
    from PIL import Image, ImageFile

_IMAGE = None  # PIL.Image once loaded: the packing parent, listing and --help never need Pillow
_TRANSPOSE_FOR_ORIENTATION: dict = {}


def _pil() -> ModuleType:
    """PIL.Image, imported and configured on first use."""
    global _IMAGE
    if _IMAGE is None:
        from PIL import Image, ImageFile

        # A decompression bomb warning (over Pillow's MAX_IMAGE_PIXELS) is a reason to skip, not a warning.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        _TRANSPOSE_FOR_ORIENTATION.update(
            {
                2: Image.Transpose.FLIP_LEFT_RIGHT,
                3: Image.Transpose.ROTATE_180,
                4: Image.Transpose.FLIP_TOP_BOTTOM,
                5: Image.Transpose.TRANSPOSE,
                6: Image.Transpose.ROTATE_270,
                7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90,
            }
        )
        _IMAGE = Image
    return _IMAGE


def preload() -> None:
    """Import Pillow and its format plugins now (a worker does it while the parent reads the lists)."""
    _pil().preinit()


_WHOLE_FILE_READ_MAX = 16 << 20
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


# The formats whose EXIF orientation OpenCV 4.x applies. Pillow turns a TIFF upright itself while loading
# (as OpenCV does); OpenCV leaves WebP as stored, and neither reads an orientation from XMP.
_EXIF_ORIENTED = frozenset({"JPEG", "MPO", "PNG"})


def opencv_orientation(image: Image.Image) -> int:
    """The EXIF orientation OpenCV would apply."""
    exif_block = image.info.get("exif") if image.format in _EXIF_ORIENTED else None
    if not exif_block:
        return 1
    try:
        if "xmp" in image.info or "XML:com.adobe.xmp" in image.info:
            # getexif() would fill a missing EXIF orientation in from XMP: read the EXIF alone.
            exif = _pil().Exif()
            exif.load(exif_block)
        else:
            exif = image.getexif()  # often parsed already, while Pillow opened the file
        return int(exif.get(0x0112, 1))
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
            raise BadImage(
                f"a {image.mode} (16/32-bit) image cannot be encoded as JPEG; "
                "use --encoding .png or --color 1"
            )
    return image


def _regular_file_size(path: str) -> int:
    status = os.stat(path)
    if stat.S_ISDIR(status.st_mode):
        raise BadImage("is a folder, not a file")
    if not stat.S_ISREG(status.st_mode):  # reading a FIFO would block
        raise BadImage("not a regular file (a device, pipe or socket)")
    if status.st_size == 0:
        raise BadImage("empty file")
    return status.st_size


def _open(path: str) -> tuple[ImageFile.ImageFile, int]:
    Image = _pil()
    try:
        size = _regular_file_size(path)
        image = Image.open(path)
        # One read and one decoder call for the whole file instead of 64 KB pieces, each re-joined
        # with the last one's leftover: ~2% of an image's time. Capped, so a huge file is still streamed.
        image.decodermaxblock = min(max(size, image.decodermaxblock), _WHOLE_FILE_READ_MAX)
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


def _draft(image: ImageFile.ImageFile, mode: str, eighths: int) -> float:
    """Have libjpeg-turbo decode at eighths/8 of the size (DCT scaling: most of the inverse DCT, colour
    conversion and upsampling never done); returns the scale set up. Pillow's draft() offers 1/8, 1/4
    and 1/2; 3/8, which suits a ~1 MP photo packed at 256 px, is set up from what draft() prepared for
    1/2 by asking libjpeg for 1/3 (it rounds up to 3/8), only when that is what we expect to see.
    A decoder that disagrees about the size fails to load, and transform() then does it the plain way."""
    width, height = image.size
    if eighths >= 8:
        image.draft(mode, None)  # full size, but still the decoder's own colour conversion
        return 1.0
    divisor = {1: 8, 2: 4, 3: 2, 4: 2}[eighths]
    drafted = image.draft(mode, (max(1, width // divisor), max(1, height // divisor)))
    if drafted is None or drafted[1] is None:
        return 1.0
    scale = 1 / round(width / drafted[1][2])
    if (
        eighths == 3
        and scale == 0.5
        and getattr(image, "decoderconfig", None) == (2, 0)
        and len(image.tile) == 1
        and tuple(image.tile[0][1]) == (0, 0, *image.size)  # type: ignore[arg-type]  # JPEG tiles have extents
    ):
        size = (-(-width * 3 // 8), -(-height * 3 // 8))  # libjpeg's output size: ceil(3/8 of it)
        tile = image.tile[0]
        # Tile entries are named tuples in Pillow 11+, plain tuples before: build either the same way.
        fields = (tile[0], (0, 0, *size), *tuple(tile)[2:])
        # Pillow's types describe only its named-tuple tiles, not the older plain ones.
        new_tile = type(tile)(*fields) if hasattr(tile, "_fields") else fields  # type: ignore[arg-type]
        image.decoderconfig = (3, 0)
        image._size = size
        image.tile = [new_tile]  # type: ignore[list-item]
        return 3 / 8
    return scale


def resample(
    picture: Image.Image,
    target: tuple[int, int],
    box: tuple[float, float, float, float],
    dct_scaled: bool,
) -> Image.Image:
    """`box` of `picture` resized to `target`; `dct_scaled`: the picture was decoded at reduced DCT scale.
    - After a DCT-scaled decode, a shrink by at most a third (what is left when 1/4, 3/8 or 1/2 is the
      smallest scale that still covers the target) takes the nearest pixel. The decode has already
      averaged in the DCT domain; the result is closer to a full-resolution Lanczos resize than im2rec's
      own bilinear from full size (docs/benchmarks.md), and a smoothing filter here cost a sixth of the
      whole per-image time.
    - Everything else is Pillow's bilinear, which averages over the area an output pixel covers when
      shrinking: a full-size decode (PNGs, JPEGs too small for 1/2 such as CUB-200's ~500x375), a
      larger shrink past 1/8, and enlarging, as im2rec does."""
    Image = _pil()
    width_ratio, height_ratio = target[0] / (box[2] - box[0]), target[1] / (box[3] - box[1])
    if (
        dct_scaled
        and 2 / 3 <= min(width_ratio, height_ratio)
        and max(width_ratio, height_ratio) <= 1
    ):
        return picture.resize(target, Image.Resampling.NEAREST, box=box)
    return picture.resize(target, Image.Resampling.BILINEAR, box=box)


def dct_eighths(
    width: int, height: int, target: tuple[int, int], three_eighths: bool = True
) -> int:
    """The smallest DCT scale, in eighths, at which a width x height region still covers `target`:
    never upscale what im2rec downscales. 8 (full size) when 1/2 does not cover it."""
    return next(
        (
            n
            for n in (1, 2, 3, 4)
            if (n != 3 or three_eighths)
            and width * n // 8 >= target[0]
            and height * n // 8 >= target[1]
        ),
        8,
    )


def transform(
    path: str, options: PackOptions, three_eighths: bool = True
) -> tuple[bytes, int, int]:
    """The encoded image im2rec would pack for `path`, with its width and height."""
    if options.pass_through:
        return _pass_through(path)
    image, _ = _open(path)
    with image:
        width, height = image.size
        orientation = opencv_orientation(image) if options.color != -1 else 1
        upright = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
        target = output_size(*upright, options)
        crop = _center_crop_box(*upright) if options.center_crop else (0, 0, *upright)
        scale = 1.0  # decoded size / file size
        if image.format == "JPEG" and options.color != -1:
            eighths = dct_eighths(crop[2] - crop[0], crop[3] - crop[1], target, three_eighths)
            scale = _draft(image, "L" if options.color == 0 else "RGB", eighths)
        try:
            _load(image)
        except BadImage:
            if scale == 3 / 8:
                return transform(
                    path, options, three_eighths=False
                )  # the plain way tells the real reason
            raise
        picture: Image.Image = image
        if orientation in _TRANSPOSE_FOR_ORIENTATION:
            picture = picture.transpose(_TRANSPOSE_FOR_ORIENTATION[orientation])
        picture = _convert_colour(picture, options.color, options.encoding)
        if options.resize:
            box = (crop[0] * scale, crop[1] * scale, crop[2] * scale, crop[3] * scale)
            if box != (0, 0, *picture.size) or picture.size != target:
                picture = resample(picture, target, box, dct_scaled=scale < 1)
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

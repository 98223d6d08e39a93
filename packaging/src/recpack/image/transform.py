"""Turning one image file into the bytes im2rec would pack for it.

im2rec reads with OpenCV and writes with OpenCV; we read and write with Pillow (its libjpeg-turbo
uses SIMD, OpenCV's wheel does not) and reproduce OpenCV's geometry and colour handling:
- EXIF orientation applied (IMREAD_COLOR / IMREAD_GRAYSCALE) to JPEG and PNG, not with --color -1;
- grey, palette, CMYK and alpha images become 3-channel colour (alpha dropped, not composited);
- 16-bit samples keep their high byte;
- --center-crop takes the centre square, margin (long - short) // 2;
- --resize N makes the shorter side N and the longer floor(N * long / short), from the full size.
A JPEG whose output is smaller than itself is decoded at 1/8, 1/4 or 1/2 scale (DCT scaling), the
smallest that still covers the output with some headroom, so most of the decoding work is never done;
OpenCV's cubic interpolation takes it the rest of the way (see resample()).

JPEGs are decoded by libjpeg-turbo through simplejpeg rather than Pillow: the same library and the same
pixels, but it reports libjpeg's warnings, which Pillow silences. A warning while decoding the scan
means damaged data (libjpeg fills what it lost with grey or shifted blocks), and the image is skipped.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar

from ..errors import RecpackError
from .faults import fault_of, image_reason

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    from PIL import Image, ImageFile

T = TypeVar("T")

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
    """Import Pillow, its format plugins and the JPEG decoder now (a worker does it while the parent
    reads the lists)."""
    preload_codecs()
    _pil().preinit()


def preload_codecs(opencv: bool = False) -> None:
    """Import the JPEG decoder (and numpy with it) and, with `opencv`, OpenCV: not Pillow. The
    packing parent does it before forking its workers, so they share one import (~0.1 CPU-second a
    worker, most of it numpy's) instead of each doing its own."""
    if "numpy" not in sys.modules:
        # A worker never multiplies matrices: without this, numpy (simplejpeg's dependency) starts
        # an OpenBLAS thread per core on import, ~40% of its import time (~50 ms a worker).
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _jpeg_codec()
    if opencv:
        _opencv()


_SIMPLEJPEG = None


def _jpeg_codec() -> ModuleType:
    """simplejpeg (libjpeg-turbo), imported on first use: it brings numpy, ~0.1 s."""
    global _SIMPLEJPEG
    if _SIMPLEJPEG is None:
        import simplejpeg

        _SIMPLEJPEG = simplejpeg
    return _SIMPLEJPEG


_OPENCV = None


def _opencv() -> ModuleType:
    """OpenCV (cv2), imported on first resize after a DCT-scaled decode (~20 ms; pass-through never
    needs it), and kept to the calling thread: two workers already use both cores."""
    global _OPENCV
    if _OPENCV is None:
        import cv2

        cv2.setNumThreads(0)
        _OPENCV = cv2
    return _OPENCV


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
        if mode == "RGB" or (mode == "RGBX" and encoding == ".jpg"):
            return image  # the JPEG encoder reads RGBX as RGB: no copy
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
    elif mode in ("1", "CMYK", "YCbCr", "RGBX"):
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
    if not stat.S_ISREG(status.st_mode):
        raise BadImage(
            "not a regular file (a device, pipe or socket)"
        )  # reading a FIFO would block
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
    except Image.DecompressionBombError as exc:
        raise BadImage(f"too many pixels (decompression bomb guard): {exc}") from None
    except Image.DecompressionBombWarning as exc:
        raise BadImage(f"too many pixels (decompression bomb guard): {exc}") from None
    except Image.UnidentifiedImageError:
        raise BadImage(_unidentified_reason(path)) from None
    except OSError as exc:
        raise unreadable(exc, path) from None
    return image, size


def unreadable(exc: OSError, path: str) -> RecpackError:
    """What an OSError reading `path` means: EnvironmentFault when the machine failed (the run
    stops), else BadImage with the reason (the image is skipped)."""
    return fault_of(exc, path) or BadImage(image_reason(exc))


# --- JPEG ----------------------------------------------------------------------------------------

# Start-of-frame markers and the coding process each announces. libjpeg decodes the DCT ones at any
# scale; it decodes 8-bit lossless frames at full size only, and hierarchical ones not at all.
_SOF_DCT = {
    0xC0: "baseline",
    0xC1: "extended sequential",
    0xC2: "progressive",
    0xC9: "arithmetic-coded sequential",
    0xCA: "arithmetic-coded progressive",
}
_SOF_OTHER = {
    0xC3: "lossless",
    0xCB: "arithmetic-coded lossless",
    0xC5: "hierarchical (differential) sequential",
    0xC6: "hierarchical (differential) progressive",
    0xC7: "hierarchical (differential) lossless",
    0xCD: "hierarchical (differential) arithmetic-coded sequential",
    0xCE: "hierarchical (differential) arithmetic-coded progressive",
    0xCF: "hierarchical (differential) arithmetic-coded lossless",
}
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD9)})  # no length field follows these
_JPEG_EOF = "Premature end of JPEG file"  # libjpeg's warning for data that ends mid-scan


@dataclass(frozen=True)
class JpegFrame:
    """What a JPEG's header (SOI up to the first start of scan) says about its image."""

    sof: int  # the start-of-frame marker, 0 when none comes before the scan
    precision: int  # bits per sample
    components: int
    scan_start: int  # offset of the first scan's entropy-coded data; 0 when the header ends first
    segments: tuple[tuple[int, int], ...]  # (start, end) of each marker segment before it
    junk: bool  # bytes between segments: libjpeg skips them with a warning, the pixels are intact

    @property
    def scalable(self) -> bool:
        """An 8-bit DCT-coded frame with 1, 3 or 4 components: what libjpeg decodes at any scale."""
        return (
            self.sof in _SOF_DCT
            and self.precision == 8
            and self.components in (1, 3, 4)
            and self.scan_start > 0
        )

    def without_junk(self, data: bytes) -> bytes:
        """The same JPEG with the bytes between its header segments left out."""
        return b"".join([data[:2], *(data[a:b] for a, b in self.segments), data[self.scan_start :]])


def read_jpeg_frame(data: bytes) -> JpegFrame:
    """Walk a JPEG's marker segments from SOI to the first start of scan. Never raises: a header that
    ends early gives scan_start 0. Every step moves forward, so hostile input cannot loop."""
    sof = precision = components = 0
    segments: list[tuple[int, int]] = []
    junk = False
    position, size = 2, len(data)
    while position + 4 <= size:
        if data[position] != 0xFF or data[position + 1] == 0x00:
            # libjpeg counts these as "extraneous bytes" (a stuffed zero too) and skips them.
            following = data.find(b"\xff", position + 1)
            if following < 0:
                break
            junk, position = True, following
            continue
        marker = data[position + 1]
        if marker == 0xFF:  # a fill byte before a marker
            position += 1
            continue
        if marker in _STANDALONE_MARKERS:
            segments.append((position, position + 2))
            position += 2
            continue
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        end = position + 2 + length
        if marker == 0xD9 or length < 2 or end > size:
            break
        segments.append((position, end))
        if marker in _SOF_DCT or marker in _SOF_OTHER:
            if not sof and length >= 8:
                sof, precision, components = marker, data[position + 4], data[position + 9]
        elif marker == 0xDA:
            return JpegFrame(sof, precision, components, end, tuple(segments), junk)
        position = end
    return JpegFrame(sof, precision, components, 0, tuple(segments), junk)


def jpeg_variant_reason(frame: JpegFrame) -> str | None:
    """Why a JPEG of this kind cannot be packed (neither recpack nor OpenCV decodes it), or None."""
    process = _SOF_DCT.get(frame.sof) or _SOF_OTHER.get(frame.sof)
    if not frame.sof:
        return "corrupt JPEG header (no frame header before the image data)"
    lossless = bool(process) and "lossless" in str(process)
    if frame.components == 0 or frame.precision not in (range(2, 17) if lossless else (8, 12)):
        return f"corrupt JPEG header ({frame.precision}-bit samples, {frame.components} components)"
    if frame.precision != 8:
        kind = "lossless JPEG" if lossless else "JPEG"
        return f"{frame.precision}-bit {kind} not supported (8-bit samples only, as in OpenCV)"
    if frame.sof in _SOF_OTHER and frame.sof != 0xC3:
        return f"{process} JPEG not supported by libjpeg"
    if frame.components not in (1, 3, 4):
        return f"JPEG with {frame.components} colour components not supported (1, 3 or 4 only)"
    return None


def _unidentified_reason(path: str) -> str:
    """The reason for a file Pillow does not recognise: for a JPEG, what kind it is."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        head = b""
    if not head.startswith(b"\xff\xd8\xff"):
        return "not an image (format not recognised)"
    frame = read_jpeg_frame(head)
    if frame.sof == 0 and frame.scan_start == 0 and len(head) == 1 << 16:
        return "corrupt JPEG header (no frame header in its first 64 KB)"
    return jpeg_variant_reason(frame) or "corrupt JPEG header (Pillow cannot parse it)"


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _open_image(path: str) -> ImageFile.ImageFile:
    """_open(), and for a PNG that Pillow refuses because an ancillary chunk (text, time, ...) has a
    bad checksum: the PNG without that chunk, with a warning. libpng, and so OpenCV and im2rec, drop
    such a chunk with a warning; the pixels are intact."""
    try:
        return _open(path)[0]
    except BadImage:
        repaired = _png_without_bad_ancillary_chunks(path)
        if repaired is None:
            raise
    warnings.warn("an ancillary PNG chunk with a bad checksum was ignored", stacklevel=2)
    return _pil().open(io.BytesIO(repaired))


def _png_without_bad_ancillary_chunks(path: str) -> bytes | None:
    """The PNG at `path` without its ancillary chunks whose CRC is wrong; None if it is no PNG or has
    none. Critical chunks (IHDR, PLTE, IDAT, IEND) are kept whatever their CRC: Pillow judges them."""
    import zlib

    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode) or status.st_size > _WHOLE_FILE_READ_MAX:
            return None  # never read a FIFO (it would block) or a huge file twice
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if not data.startswith(_PNG_SIGNATURE):
        return None
    kept, position, dropped = [data[:8]], 8, False
    while position + 12 <= len(data):
        end = position + 12 + int.from_bytes(data[position : position + 4], "big")
        if end > len(data):
            break
        ancillary = data[position + 4] & 0x20  # a lower-case first letter
        if ancillary and zlib.crc32(data[position + 4 : end - 4]) != int.from_bytes(
            data[end - 4 : end], "big"
        ):
            dropped = True
        else:
            kept.append(data[position:end])
        position = end
    kept.append(data[position:])
    return b"".join(kept) if dropped else None


def _read_whole(path: str) -> bytes:
    try:
        with open(path, "rb", buffering=0) as f:
            return f.readall()
    except OSError as exc:
        raise unreadable(exc, path) from None


def _decode_jpeg(
    data: bytes, frame: JpegFrame, size: tuple[int, int], colour: int, eighths: int
) -> Image.Image | None:
    """The JPEG decoded by libjpeg-turbo at eighths/8 of its `size`, with libjpeg's warnings as
    errors. None when Pillow should decode it instead: a header libjpeg warns about although the
    pixels are intact (an unknown JFIF version, say), or a size the decoder disagrees about.
    Raises BadImage for damaged or undecodable data. Only 8-bit DCT-coded frames come here:
    simplejpeg 1.9 writes a lossless frame's full-size output into a buffer sized for the scaled one."""
    decoded = _decode_jpeg_pixels(data, frame, size, colour, eighths)
    return None if decoded is None else _picture_of(*decoded)


def _decode_jpeg_pixels(
    data: bytes, frame: JpegFrame, size: tuple[int, int], colour: int, eighths: int
) -> tuple[np.ndarray, str] | None:
    """_decode_jpeg()'s pixels as the decoder left them, and their layout (RGBX, GRAY or CMYK)."""
    codec = _jpeg_codec()
    source = frame.without_junk(data) if frame.junk else data
    if frame.components == 4:
        pixel_format = "CMYK"  # converted below as Pillow converts it (Adobe's inverted CMYK)
    elif colour == 0 or (colour == -1 and frame.components == 1):
        pixel_format = "GRAY"
    else:
        pixel_format = "RGBX"  # Pillow's own layout for RGB: the decoder's buffer is used as it is
    expected = (-(-size[0] * eighths // 8), -(-size[1] * eighths // 8))
    scaled = {"min_width": expected[0], "min_height": expected[1]} if eighths < 8 else {}
    try:
        pixels = codec.decode_jpeg(source, pixel_format, strict=True, **scaled)
    except ValueError as exc:
        _jpeg_failure(codec, source, pixel_format, scaled, str(exc))  # raises for damaged data
        return None
    if pixels.shape[1::-1] != expected:
        return None
    return pixels, pixel_format


def _picture_of(pixels: np.ndarray, pixel_format: str) -> Image.Image:
    """The decoder's pixels as a Pillow image: RGBX and GRAY without a copy."""
    Image = _pil()
    size = pixels.shape[1::-1]
    if pixel_format == "CMYK":
        return Image.frombuffer("CMYK", size, pixels, "raw", "CMYK;I", 0, 1)
    mode = "L" if pixel_format == "GRAY" else "RGBX"
    return Image.frombuffer(mode, size, pixels, "raw", mode, 0, 1)


def _jpeg_failure(
    codec: ModuleType, source: bytes, pixel_format: str, scaled: dict, message: str
) -> None:
    """After a strict decode failed: BadImage when libjpeg decoded the scan with a warning (it filled
    in what it lost: damaged or truncated data). None, for Pillow to decode or refuse, when the header
    is what failed (a warning about an unknown JFIF version; a layout TurboJPEG refuses though libjpeg
    reads it, such as subsampled CMYK) or the decode failed outright. Only failed files get here."""
    try:
        codec.decode_jpeg_header(source, strict=True)
        codec.decode_jpeg(source, pixel_format, strict=False, **scaled)
    except ValueError:
        return
    if message.startswith(_JPEG_EOF):
        raise BadImage(f"truncated JPEG data (libjpeg: {message})")
    raise BadImage(f"damaged JPEG data (libjpeg: {message})")


def _load(image: Image.Image) -> None:
    Image = _pil()
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise BadImage(f"too many pixels (decompression bomb guard): {exc}") from None
    except Image.DecompressionBombWarning as exc:
        raise BadImage(f"too many pixels (decompression bomb guard): {exc}") from None
    except OSError as exc:
        if exc.errno is not None:  # the file's read failed, not the decoder
            raise unreadable(exc, getattr(image, "filename", "") or "an image") from None
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
    """Have libjpeg-turbo decode at eighths/8 (1, 2, 4 or 8) of the size through Pillow's draft() (DCT
    scaling: most of the inverse DCT, colour conversion and upsampling never done); returns the scale
    set up."""
    width, height = image.size
    if eighths >= 8:
        image.draft(mode, None)  # full size, but still the decoder's own colour conversion
        return 1.0
    divisor = 8 // eighths
    drafted = image.draft(mode, (max(1, width // divisor), max(1, height // divisor)))
    if drafted is None or drafted[1] is None:
        return 1.0
    return 1 / round(width / drafted[1][2])


def resample(
    picture: Image.Image,
    target: tuple[int, int],
    box: tuple[float, float, float, float],
    dct_scaled: bool = False,
    pixels: np.ndarray | None = None,
) -> Image.Image:
    """`box` of `picture` resized to `target`. `pixels`, when given, are `picture`'s own memory.
    - A shrink after a DCT-scaled JPEG decode (dct_scaled) is OpenCV's cubic interpolation at the
      exact scale. The reduced-size inverse DCT has already removed the detail the decoded picture
      cannot hold; what is left to do is to sample it at the output's positions without blurring the
      detail just below the output's resolution limit (stripes, barbs, star pairs), as a full-size
      Lanczos resize keeps it. Cubic interpolation does that at a fraction of Lanczos' cost; the
      nearest pixel shifts such detail and bilinear or antialiased filters blur it, 2 to 11 dB further
      from the ideal than im2rec.py's own output (docs/benchmarks.md).
    - Any other shrink (full-size decodes: CUB-200's ~500x375, PNGs; a crop at a fraction of a
      decoded pixel) is Lanczos; by more than 3, whole blocks are averaged first (reducing_gap).
    - Enlarging, or enlarging one way, is bilinear, as im2rec does it."""
    Image = _pil()
    width_ratio, height_ratio = target[0] / (box[2] - box[0]), target[1] / (box[3] - box[1])
    if max(width_ratio, height_ratio) > 1:
        return picture.resize(target, Image.Resampling.BILINEAR, box=box)
    if dct_scaled and box[0] == int(box[0]) and box[1] == int(box[1]):
        if pixels is None:
            import numpy

            pixels = numpy.asarray(picture)
        return _cubic_shrink(pixels, target, box)
    return picture.resize(target, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


def _cubic_shrink(
    pixels: np.ndarray, target: tuple[int, int], box: tuple[float, float, float, float]
) -> Image.Image:
    """`box` of `pixels` (whole-pixel left and top) resized to `target` by cubic interpolation.
    cv2.resize is given the scale rather than the output size: a decoded picture usually ends in a
    fraction of a pixel (libjpeg rounds its size up), and sizing by whole pixels would stretch the
    output by up to that fraction, which costs up to 8 dB on stripes near the resolution limit.
    Outside the box, OpenCV repeats the edge pixels, as im2rec.py resizes a crop."""
    cv2 = _opencv()
    left, top = int(box[0]), int(box[1])
    right, bottom = -(-box[2] // 1), -(-box[3] // 1)
    source = pixels[top : int(bottom), left : int(right)]
    scale_x, scale_y = target[0] / (box[2] - box[0]), target[1] / (box[3] - box[1])
    # The output covers the whole source (at least `target`, maybe a pixel more): keep `target`.
    out = cv2.resize(source, None, fx=scale_x, fy=scale_y, interpolation=cv2.INTER_CUBIC)
    channels = 1 if out.ndim == 2 else out.shape[2]
    mode = {1: "L", 3: "RGB", 4: "RGBX"}[channels]
    return _pil().frombuffer(mode, target, out, "raw", mode, out.strides[0], 1)


# Decoded size / output size a DCT-scaled decode keeps at least. libjpeg's reduced-size IDCT keeps
# only the lowest frequencies of each 8x8 block, and detail near the top of what it keeps comes out
# blocky: with less than this headroom, stripes just below the output's resolution limit were up to
# 3 dB further from the ideal than im2rec's (1400x1050 at 1/4 scale, 1.03x the output).
DCT_HEADROOM = 1.1


def dct_eighths(width: int, height: int, target: tuple[int, int]) -> int:
    """The smallest DCT scale, in eighths (1/8, 1/4 or 1/2), at which a width x height region is at
    least DCT_HEADROOM times `target`: never upscale what im2rec downscales. 8 (full size) when 1/2 is
    not that large. Not 3/8: libjpeg-turbo has no SIMD inverse DCT for it, so it decodes slower than
    1/2, and cubic interpolation after it was up to 0.4 dB further from the ideal on stripes."""
    return next(
        (
            n
            for n in (1, 2, 4)
            if width * n // 8 >= target[0] * DCT_HEADROOM
            and height * n // 8 >= target[1] * DCT_HEADROOM
        ),
        8,
    )


def transform(path: str, options: PackOptions) -> tuple[bytes, int, int, tuple[str, ...]]:
    """The encoded image im2rec would pack for `path`, its width and height, and what Pillow warned
    about the file (a broken EXIF block, say): each message once, for the caller to show with the
    file's name rather than as a Python warning without it."""
    work = _pass_through if options.pass_through else _transform
    (data, width, height), notes = _noting_warnings(work, path, options)
    return data, width, height, notes


def _noting_warnings(function: Callable[..., T], *args: object) -> tuple[T, tuple[str, ...]]:
    """(function(*args), the distinct messages of the warnings it raised); a decompression bomb
    warning stays an error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", _pil().DecompressionBombWarning)
        result = function(*args)
    return result, tuple(dict.fromkeys(str(warning.message) for warning in caught))


def _transform(path: str, options: PackOptions) -> tuple[bytes, int, int]:
    image = _open_image(path)
    with image:
        width, height = image.size
        orientation = opencv_orientation(image) if options.color != -1 else 1
        turned = orientation in (5, 6, 7, 8)
        upright = (height, width) if turned else (width, height)
        target = output_size(*upright, options)
        crop = _center_crop_box(*upright) if options.center_crop else (0, 0, *upright)
        # Cropped and resized as stored, then turned upright: the turn moves only the output's pixels.
        stored_crop = _stored_box(crop, (width, height), orientation)
        stored_target = target[::-1] if turned else target
        decoded, scale, pixels = _decoded(path, image, options, stored_crop, stored_target)
        picture = _convert_colour(decoded, options.color, options.encoding)
        if options.resize:
            left, top, right, bottom = stored_crop
            box = (left * scale, top * scale, right * scale, bottom * scale)
            if box != (0, 0, *picture.size) or picture.size != stored_target:
                own = pixels if picture is decoded else None
                picture = resample(picture, stored_target, box, scale < 1, own)
        elif options.center_crop:
            picture = picture.crop(stored_crop)
        if orientation in _TRANSPOSE_FOR_ORIENTATION:
            picture = picture.transpose(_TRANSPOSE_FOR_ORIENTATION[orientation])
        data = _encode(picture, options)
        return data, picture.size[0], picture.size[1]


def _stored_box(
    box: tuple[int, int, int, int], size: tuple[int, int], orientation: int
) -> tuple[int, int, int, int]:
    """`box` of the upright picture as the same region of the stored one, which is `size` and turned
    upright by EXIF `orientation` (2-8 as in _TRANSPOSE_FOR_ORIENTATION)."""
    left, top, right, bottom = box
    if orientation in (5, 6, 7, 8):  # a quarter turn: upright x runs along stored y
        left, top, right, bottom = top, left, bottom, right
    if orientation in (2, 3, 7, 8):  # mirrored left to right, as stored
        left, right = size[0] - right, size[0] - left
    if orientation in (3, 4, 6, 7):  # mirrored top to bottom
        top, bottom = size[1] - bottom, size[1] - top
    return left, top, right, bottom


def _decoded(
    path: str,
    image: ImageFile.ImageFile,
    options: PackOptions,
    crop: tuple[int, int, int, int],
    target: tuple[int, int],
) -> tuple[Image.Image, float, np.ndarray | None]:
    """The picture, decoded at the smallest DCT scale that still covers `target` for an 8-bit DCT
    JPEG (full size for everything else), that scale (decoded size / file size), and the decoder's
    pixels when they are the picture's memory (for OpenCV to read without a copy)."""
    eighths = 8
    if image.format in ("JPEG", "MPO"):
        data = _read_whole(path)
        frame = read_jpeg_frame(data)
        reason = jpeg_variant_reason(frame) if frame.sof else None
        if reason:
            raise BadImage(reason)
        if frame.scalable and options.color != -1:
            eighths = dct_eighths(crop[2] - crop[0], crop[3] - crop[1], target)
        if frame.scalable:
            decoded = _decode_jpeg_pixels(data, frame, image.size, options.color, eighths)
            if decoded is not None:
                pixels, pixel_format = decoded
                own = pixels if pixel_format != "CMYK" else None
                return _picture_of(pixels, pixel_format), eighths / 8, own
    scale = 1.0
    if eighths < 8:  # Pillow decodes what libjpeg warned about in its header: draft()'s own scales
        scale = _draft(image, "L" if options.color == 0 else "RGB", eighths)
    _load(image)
    return image, scale, None


def _looks_complete(data: bytes, image_format: str | None) -> bool:
    tail = data.rstrip(b"\0")
    if image_format == "JPEG":
        return tail.endswith(b"\xff\xd9")
    if image_format == "PNG":
        return b"IEND" in tail[-12:]
    return False


def _pass_through(path: str, options: PackOptions | None = None) -> tuple[bytes, int, int]:
    """The file's own bytes, after checking that it is a whole image (cheaply when possible)."""
    image, _ = _open(path)
    with image:
        width, height = image.size
        image_format = image.format
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise unreadable(exc, path) from None
    if not _looks_complete(data, image_format):
        # No end marker where one is expected: decode it fully to tell truncation from trailing bytes.
        with _pil().open(io.BytesIO(data)) as probe:
            _load(probe)
    return data, width, height


_TAIL = 4096  # enough of a file's end to find its end marker past any zero padding


def check_pass_through(path: str) -> tuple[int, int, tuple[str, ...]]:
    """(width, height, Pillow's warnings) of a file --pass-through may pack as it is, read only at its
    header and its end when it ends as a whole image should. The kernel is asked to read the rest
    ahead, for the process that copies the bytes (the packing parent), so the disk stays busy."""
    (width, height), notes = _noting_warnings(_check_pass_through, path)
    return width, height, notes


def _check_pass_through(path: str) -> tuple[int, int]:
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
        raise unreadable(exc, path) from None
    if not _looks_complete(tail, image_format):
        _pass_through(path)  # the whole check: raises BadImage for a truncated file
    return width, height

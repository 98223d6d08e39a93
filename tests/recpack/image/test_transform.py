"""The resampling recpack picks for each kind of resize, and where it finds a crop in a stored picture."""

import math

import cv2
import numpy as np
import pytest
from PIL import Image

from recpack import synthetic
from recpack.image.transform import _TRANSPOSE_FOR_ORIENTATION, _stored_box, dct_eighths, resample


@pytest.mark.parametrize(
    "source, target, method, gap",
    [
        ((500, 375), (341, 256), Image.Resampling.LANCZOS, 3.0),  # a full-size decode (CUB-200)
        ((4000, 3000), (341, 256), Image.Resampling.LANCZOS, 3.0),  # a large PNG: reduce first
        ((300, 200), (384, 256), Image.Resampling.BILINEAR, None),  # enlarging, as im2rec does
        ((300, 250), (320, 240), Image.Resampling.BILINEAR, None),  # enlarging one way is enlarging
    ],
)
def test_shrinks_are_lanczos_and_enlarging_is_bilinear(source, target, method, gap):
    picture = synthetic.photo(*source, seed=1)
    box = (0, 0, *source)
    expected = picture.resize(target, method, box=box, reducing_gap=gap).tobytes()
    assert resample(picture, target, box).tobytes() == expected
    if method == Image.Resampling.BILINEAR:  # enlarging after a DCT-scaled decode too
        assert resample(picture, target, box, dct_scaled=True).tobytes() == expected


@pytest.mark.parametrize("mode", ["RGBX", "RGB", "L"])
@pytest.mark.parametrize(
    "box, target",
    [
        ((0, 0, 600, 400), (384, 256)),  # 1200x800 at 1/2 (a few columns more)
        ((0, 0, 500.5, 375.5), (341, 256)),  # 1001x751 at 1/2: the decode ends in half a pixel
        ((63, 0, 438.5, 375.5), (256, 256)),  # a centre crop, as stored
    ],
)
def test_after_a_dct_scaled_decode_shrinks_are_cubic_at_the_exact_scale(mode, box, target):
    """The scale is the box's, not whole pixels': sizing by whole pixels would stretch the output by
    up to one decoded pixel, and that costs up to 8 dB on stripes near the resolution limit."""
    width, height = math.ceil(box[2]), math.ceil(box[3])  # as libjpeg rounds a scaled size up
    picture = synthetic.photo(width + 5, height, seed=2).convert(mode)  # and a crop ends before
    pixels = np.asarray(picture)
    source = pixels[int(box[1]) : height, int(box[0]) : width]
    scale = (target[0] / (box[2] - box[0]), target[1] / (box[3] - box[1]))
    expected = cv2.resize(source, None, fx=scale[0], fy=scale[1], interpolation=cv2.INTER_CUBIC)
    expected = expected[: target[1], : target[0]]
    for own in (pixels, None):  # the decoder's own memory, or a copy of the picture's
        out = resample(picture, target, box, dct_scaled=True, pixels=own)
        assert out.size == target
        assert np.array_equal(np.asarray(out), expected)


def test_a_crop_at_a_fraction_of_a_decoded_pixel_is_lanczos():
    """cv2.resize cannot start between pixels: such a crop (a centre crop whose margin is odd, at
    1/2 scale) keeps its exact position through Pillow's Lanczos."""
    picture = synthetic.photo(500, 376, seed=3)
    box = (62.5, 0, 437.5, 375)
    expected = picture.resize((256, 256), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    assert resample(picture, (256, 256), box, dct_scaled=True).tobytes() == expected.tobytes()


@pytest.mark.parametrize(
    "size, eighths",
    [
        ((1200, 800), 4),  # 600x400 for 384x256: 1.56x
        ((1400, 1050), 4),  # 1/4 would leave 350x263 for 341x256 (1.03x): too little headroom
        ((2000, 1500), 2),  # 500x375 for 341x256
        ((4000, 3000), 1),  # 500x375 for 341x256
        ((600, 450), 8),  # 1/2 leaves 300x225 for 341x256: full size
    ],
)
def test_dct_scale_keeps_headroom_over_the_output(size, eighths):
    short = min(size)
    target = (size[0] * 256 // short, size[1] * 256 // short)
    assert dct_eighths(*size, target) == eighths


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_box_of_the_upright_picture_is_found_in_the_stored_one(orientation):
    stored = Image.new("L", (7, 5))
    for x in range(7):
        for y in range(5):
            stored.putpixel((x, y), 10 * x + y)
    upright = stored
    if orientation in _TRANSPOSE_FOR_ORIENTATION:
        upright = stored.transpose(_TRANSPOSE_FOR_ORIENTATION[orientation])
    for box in [(0, 0, 1, 1), (1, 2, 3, 5), (0, 0, *upright.size), (2, 1, 4, 2)]:
        region = stored.crop(_stored_box(box, stored.size, orientation))
        if orientation in _TRANSPOSE_FOR_ORIENTATION:
            region = region.transpose(_TRANSPOSE_FOR_ORIENTATION[orientation])
        assert region.tobytes() == upright.crop(box).tobytes()

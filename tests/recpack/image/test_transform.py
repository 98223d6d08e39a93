"""The resampling recpack picks for each kind of resize."""

import pytest
from PIL import Image

from recpack import synthetic
from recpack.image.transform import dct_eighths, resample


@pytest.mark.parametrize(
    "source, target, method, gap",
    [
        ((450, 300), (384, 256), Image.Resampling.LANCZOS, 3.0),  # what a 3/8 decode leaves
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


@pytest.mark.parametrize(
    "size, eighths",
    [
        ((1200, 800), 3),  # 450x300 for 384x256: 1.17x
        ((1400, 1050), 3),  # 1/4 would leave 350x263 for 341x256 (1.03x): too little headroom
        ((1000, 700), 4),  # 3/8 would leave 375x263 for 365x256 (1.03x)
        ((4000, 3000), 1),  # 500x375 for 341x256
        ((600, 450), 8),  # 1/2 leaves 300x225 for 341x256: full size
    ],
)
def test_dct_scale_keeps_headroom_over_the_output(size, eighths):
    short = min(size)
    target = (size[0] * 256 // short, size[1] * 256 // short)
    assert dct_eighths(*size, target) == eighths

"""The resampling recpack picks for each kind of resize."""

import pytest
from PIL import Image

from recpack import synthetic
from recpack.image.transform import resample


@pytest.mark.parametrize(
    "source, target, dct_scaled, method",
    [
        (
            (337, 263),
            (328, 256),
            True,
            Image.Resampling.NEAREST,
        ),  # what a 3/8-scale decode leaves: a mild shrink
        (
            (384, 256),
            (257, 171),
            True,
            Image.Resampling.NEAREST,
        ),  # exactly two thirds and a little over
        (
            (500, 375),
            (341, 256),
            False,
            Image.Resampling.BILINEAR,
        ),  # full-size decode (CUB-200): nothing averaged yet
        (
            (1200, 800),
            (384, 256),
            True,
            Image.Resampling.BILINEAR,
        ),  # a JPEG past 1/8: a larger shrink
        ((1200, 800), (384, 256), False, Image.Resampling.BILINEAR),  # a PNG
        ((300, 200), (384, 256), False, Image.Resampling.BILINEAR),  # enlarging, as im2rec does
        ((300, 250), (320, 240), True, Image.Resampling.BILINEAR),  # enlarging one way is enlarging
    ],
)
def test_resampling_follows_the_ratio_and_the_decode(source, target, dct_scaled, method):
    picture = synthetic.photo(*source, seed=1)
    box = (0, 0, *source)
    expected = picture.resize(target, method, box=box).tobytes()
    assert resample(picture, target, box, dct_scaled=dct_scaled).tobytes() == expected

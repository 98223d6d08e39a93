"""The resampling recpack picks for each kind of resize."""

import pytest
from PIL import Image

from recpack import synthetic
from recpack.imaging import resample


@pytest.mark.parametrize("source, target, method", [
    ((337, 263), (328, 256), Image.Resampling.NEAREST),  # what a 3/8-scale decode leaves: a mild shrink
    ((384, 256), (257, 171), Image.Resampling.NEAREST),  # exactly two thirds and a little over
    ((1200, 800), (384, 256), Image.Resampling.BOX),  # a PNG, or a JPEG past 1/8: average the area
    ((300, 200), (384, 256), Image.Resampling.BILINEAR),  # enlarging, as im2rec does
    ((300, 250), (320, 240), Image.Resampling.BILINEAR),  # enlarging one way is enlarging
])
def test_resampling_follows_the_ratio(source, target, method):
    picture = synthetic.photo(*source, seed=1)
    box = (0, 0, *source)
    assert resample(picture, target, box).tobytes() == picture.resize(target, method, box=box).tobytes()

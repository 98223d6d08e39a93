"""defaults.py is where a default lives; the one copy left elsewhere is pinned to it."""

from recpack import defaults
from recpack.image.transform import PackOptions


def test_pack_options_default_to_the_cli_defaults():
    # image/transform.py keeps these literals until the image-quality work on that file has landed.
    assert PackOptions() == PackOptions(
        resize=defaults.RESIZE,
        quality=defaults.QUALITY,
        encoding=defaults.ENCODING,
        color=defaults.COLOR,
    )

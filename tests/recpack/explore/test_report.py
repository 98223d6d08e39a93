import subprocess
import sys
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest
from PIL import Image

from recpack import synthetic
from recpack.cli import main
from recpack.explore.facts import ImageFacts, read_header

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources, self.hrefs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.sources.append(attrs["src"])
        if tag == "a":
            self.hrefs.append(attrs["href"])

    def handle_data(self, data):
        self.text.append(data)


def parse_report(out):
    links = Links()
    links.feed((out / "index.html").read_text(encoding="utf-8"))
    return links


def assert_links_resolve(out, links):
    for target in links.sources + links.hrefs:
        assert "://" not in target, f"{target}: the report must not need the network"
        assert (out / unquote(target)).is_file(), f"{target} does not resolve from {out}"


@pytest.fixture(scope="module")
def folder_dataset(tmp_path_factory):
    """Four classes of 5, a class of one image smaller than 224 px, a file that is not an image."""
    root = tmp_path_factory.mktemp("explore") / "images"
    synthetic.folder_dataset(str(root), per_class=5, seed=3)
    synthetic.save(synthetic.photo(180, 150, 1), str(root / "0999" / "lonely bird.jpg"))
    (root / "0752" / "broken.jpg").write_bytes(b"this is not a jpeg")
    (root.parent / "classes.txt").write_text(
        "".join(
            f"{int(cid)} {name}\n"
            for cid, name in {**synthetic.WORKSHOP_CLASSES, "0999": "Dodo"}.items()
        )
    )
    return root


@pytest.fixture(scope="module")
def folder_report(folder_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "recpack",
            "explore",
            str(folder_dataset),
            "--out",
            str(out),
            "--samples",
            "3",
        ],
        capture_output=True,
        text=True,
    )
    return out, completed


def test_terminal_summary_names_what_needs_attention(folder_report):
    out, completed = folder_report
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == "22 images in 5 classes (folders layout); images per class 1..6, median 5"
    assert (
        "1 class with fewer than 2 images, too small to split into train and validation: "
        "0999 Dodo (1)"
    ) in lines
    assert any(
        line.startswith("sizes: ") and line.endswith("1 image smaller than 224 px on a side")
        for line in lines
    )
    assert "1 unreadable file: 0752/broken.jpg" in lines
    assert lines[-1] == f"report: {out / 'index.html'}"


def test_folder_report_links_resolve_and_figures_are_png(folder_report):
    out, _ = folder_report
    links = parse_report(out)
    assert_links_resolve(out, links)
    assert {"images_per_class.png", "image_sizes.png"} <= set(links.sources)
    for figure in ("images_per_class.png", "image_sizes.png"):
        assert (out / figure).read_bytes()[:8] == PNG_MAGIC
    thumbnails = [s for s in links.sources if s.startswith("thumbnails/")]
    assert len(thumbnails) == 3 * 4 + 1  # 3 samples per class, the lonely class has one
    for thumbnail in thumbnails:
        with Image.open(out / thumbnail) as image:
            assert max(image.size) <= 160
    # Thumbnails link to the original image.
    assert any(unquote(h).endswith("0999/lonely bird.jpg") for h in links.hrefs)


def test_folder_report_shows_the_class_table_formats_and_problems(folder_report):
    out, _ = folder_report
    text = " ".join(parse_report(out).text)
    for label, (class_id, name) in enumerate(
        {**synthetic.WORKSHOP_CLASSES, "0999": "Dodo"}.items()
    ):
        assert f"{label} {class_id} {name}" in " ".join(text.split())
    assert "0752/broken.jpg 0752 Purple Martin not an image Pillow can read" in " ".join(
        text.split()
    )
    assert "0999/lonely bird.jpg 0999 Dodo 180×150" in " ".join(text.split())
    assert "JPEG .jpg" in " ".join(text.split()) and "RGB" in text


def test_metadata_layout_with_a_missing_and_an_unreadable_image(tmp_path, capsys):
    folder = tmp_path / "nabirds"
    synthetic.nabirds_dataset(str(folder), per_class=4, seed=5, extra_classes={"0001": "Birds"})
    images = sorted((folder / "images").rglob("*.*"))
    images[0].unlink()
    images[-1].write_bytes(images[-1].read_bytes()[:20])  # the header is cut off
    out = tmp_path / "out"
    assert (
        main(["explore", str(folder), "--out", str(out), "--min-size", "600", "--samples", "2"])
        == 0
    )
    captured = capsys.readouterr()
    assert "recpack: warning: 1 images listed in images.txt are not on disk" in captured.err
    assert captured.out.startswith("15 images in 4 classes (metadata layout)")
    assert "14 images smaller than 600 px on a side" in captured.out
    assert (
        f"1 unreadable file: images/{images[-1].relative_to(folder / 'images').as_posix()}"
        in captured.out
    )
    links = parse_report(out)
    assert_links_resolve(out, links)
    text = " ".join(" ".join(links.text).split())
    # NABirds' classes.txt writes ids without leading zeros.
    assert "0 752 Purple Martin" in text and "3 842 Eastern Bluebird" in text
    assert "Birds" not in text  # a parent class without images is no class


def test_pixels_that_do_not_decode_are_reported_from_the_samples(tmp_path, capsys):
    root = tmp_path / "images"
    synthetic.folder_dataset(str(root), per_class=2, classes=["a", "b"], seed=1, png_share=0)
    whole = (root / "a" / "a_0000.jpg").read_bytes()
    (root / "a" / "a_0000.jpg").write_bytes(
        whole[: len(whole) // 3]
    )  # header intact, scan data cut
    assert main(["explore", str(root), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "1 unreadable file: a/a_0000.jpg" in out
    assert "header reads but pixels do not decode" in (tmp_path / "out" / "index.html").read_text()


def test_exif_rotation_swaps_width_and_height_as_training_sees_them(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    synthetic.photo(300, 200, 1).save(path, "JPEG", exif=exif.tobytes())
    facts = read_header(str(path), ImageFacts("rotated.jpg", 0))
    assert (facts.width, facts.height, facts.format, facts.mode) == (200, 300, "JPEG", "RGB")


@pytest.mark.parametrize("image_format, upright", [("TIFF", (200, 300)), ("WEBP", (300, 200))])
def test_sizes_follow_opencv_orientation_rules_in_other_formats(tmp_path, image_format, upright):
    """Pillow reports a TIFF's size already turned (turning it again would undo it); OpenCV ignores a
    WebP's EXIF orientation, so training sees it as stored."""
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / f"rotated.{image_format.lower()}"
    synthetic.photo(300, 200, 1).save(path, image_format, exif=exif)
    facts = read_header(str(path), ImageFacts(path.name, 0))
    assert (facts.width, facts.height) == upright


def test_many_classes_and_modes(tmp_path, capsys):
    root = tmp_path / "many"
    for number in range(70):
        folder = root / f"c{number:02d}"
        folder.mkdir(parents=True)
        mode = ("L", "RGBA", "I;16", "P")[number % 4]
        Image.new(mode, (40, 30)).save(folder / "only.png")
    assert main(["explore", str(root), "--out", str(tmp_path / "out"), "--samples", "1"]) == 0
    out = capsys.readouterr().out
    assert "70 classes with fewer than 2 images" in out and ", ... (70 in all)" in out
    assert "modes: " in out and all(f"{mode} " in out for mode in ("L", "RGBA", "I;16", "P"))
    assert (tmp_path / "out" / "images_per_class.png").read_bytes()[:8] == PNG_MAGIC
    assert len(list((tmp_path / "out" / "thumbnails").iterdir())) == 70


def test_rerun_replaces_the_earlier_thumbnails(folder_dataset, tmp_path):
    out = tmp_path / "out"
    assert main(["explore", str(folder_dataset), "--out", str(out), "--samples", "3"]) == 0
    assert main(["explore", str(folder_dataset), "--out", str(out), "--samples", "1"]) == 0
    assert len(list((out / "thumbnails").iterdir())) == 5
    assert_links_resolve(out, parse_report(out))


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["explore", "{tmp}/nowhere"], "recpack: error: ROOT '{tmp}/nowhere' does not exist"),
        (
            ["explore", "{root}", "--out", "{tmp}/file.txt"],
            "recpack: error: --out '{tmp}/file.txt' is a file, not a folder; name a folder",
        ),
    ],
)
def test_user_mistakes_are_one_line_errors(folder_dataset, tmp_path, capsys, arguments, message):
    (tmp_path / "file.txt").write_text("not a folder")
    values = {"tmp": tmp_path, "root": folder_dataset}
    assert main([a.format(**values) for a in arguments]) == 1
    assert capsys.readouterr().err.strip() == message.format(**values)


def test_usage_mistake_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["explore", "somewhere", "--min-size", "zero"])
    assert exit_info.value.code == 2
    assert "--min-size: 'zero' is not a whole number" in capsys.readouterr().err


def test_without_matplotlib_explore_names_the_extra(folder_dataset, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert main(["explore", str(folder_dataset), "--out", str(tmp_path / "out")]) == 1
    assert "pip install 'recpack[explore]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_cli_starts_without_importing_matplotlib():
    code = (
        "import sys; from recpack.cli import build_parser; build_parser(); "
        "assert 'matplotlib' not in sys.modules and 'recpack.explore' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_io_error_stops_the_report_instead_of_calling_the_image_unreadable(
    folder_dataset, tmp_path, capsys, monkeypatch
):
    import errno

    real_open = Image.open

    def failing_open(path, *args, **kwargs):
        if str(path).endswith("_0001.jpg"):
            raise OSError(errno.EIO, "Input/output error", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(Image, "open", failing_open)
    assert main(["explore", str(folder_dataset), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("recpack: error: cannot read ") and "Input/output error (EIO)" in err
    assert not (tmp_path / "out" / "index.html").exists()

"""The raw archive as instructors make it on each platform: extracted safely, its ROOT found."""

import zipfile

import pytest

from recpack.aws.archive import extract_archive, find_dataset_root
from recpack.dataset.discovery import discover
from recpack.errors import CloudError


def _zip(path, names):
    with zipfile.ZipFile(path, "w") as bundle:
        for name in names:
            bundle.writestr(name, b"" if name.endswith(("/", "\\")) else b"x")
    return str(path)


def _classes_under(tmp_path, archive):
    out = tmp_path / "out"
    extract_archive(archive, str(out))
    root = find_dataset_root(str(out))
    return root, [info.class_id for info in discover(root).classes]


def test_a_windows_powershell_zip_with_backslashes_keeps_its_folders(tmp_path):
    # Windows PowerShell 5.1's Compress-Archive -Path images writes `images\0752\a.jpg`.
    archive = _zip(
        tmp_path / "birds.zip",
        ["images\\0752\\a.jpg", "images\\0752\\b.jpg", "images\\0772\\c.jpg"],
    )
    root, classes = _classes_under(tmp_path, archive)
    assert root == str(tmp_path / "out" / "images")
    assert classes == ["0752", "0772"]


def test_a_backslash_cannot_climb_out_of_the_extraction_folder(tmp_path):
    archive = _zip(tmp_path / "evil.zip", ["..\\escaped.jpg"])
    with pytest.raises(CloudError, match="outside the extraction folder"):
        extract_archive(archive, str(tmp_path / "out"))
    assert not (tmp_path / "escaped.jpg").exists()


@pytest.mark.parametrize(
    "names",
    [
        # zip -r birds.zip images (Linux, macOS)
        ["images/0752/a.jpg", "images/0772/b.jpg"],
        # the lab folder itself zipped, with its script beside images/
        ["lab1/package_images.sh", "lab1/images/0752/a.jpg", "lab1/images/0772/b.jpg"],
        # Finder's Compress: a __MACOSX/ folder of ._ files beside the folder
        ["images/0752/a.jpg", "images/0772/b.jpg", "__MACOSX/images/0752/._a.jpg"],
        # class folders at the top
        ["0752/a.jpg", "0772/b.jpg"],
    ],
    ids=["zip -r images", "the lab folder", "Finder", "class folders at the top"],
)
def test_the_layouts_the_readme_shows_find_the_class_folders(tmp_path, names):
    _, classes = _classes_under(tmp_path, _zip(tmp_path / "birds.zip", names))
    assert classes == ["0752", "0772"]

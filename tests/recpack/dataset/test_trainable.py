"""Datasets that cannot train are refused by `recpack list` and `recpack pipeline` before any GPU
time is paid for; `recpack pack` names the images smaller than the training shape."""

import pytest

from recpack import synthetic


@pytest.fixture
def one_species(tmp_path):
    root = tmp_path / "images"
    synthetic.folder_dataset(str(root), per_class=4, classes=["0752"], seed=1)
    return root


def test_a_single_class_is_refused(one_species, tmp_path, recpack):
    result = recpack("list", tmp_path / "ds", one_species, "--train-ratio", "0.75", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("recpack: error: only one class")
    assert "training needs at least 2" in result.stderr and "--allow-single-class" in result.stderr
    assert not list(tmp_path.glob("ds*"))


def test_a_single_class_test_set_may_be_listed_on_request(one_species, tmp_path, recpack):
    recpack("list", tmp_path / "test", one_species, "--allow-single-class")
    assert len((tmp_path / "test.lst").read_text().splitlines()) == 4


def test_classes_narrowed_to_one_are_refused(birds, tmp_path, recpack):
    result = recpack("list", tmp_path / "ds", birds, "--classes", "0772", check=False)
    assert result.returncode == 1 and "only one class" in result.stderr


def test_a_class_without_a_training_image_is_refused(birds, tmp_path, recpack):
    root = tmp_path / "images"
    synthetic.folder_dataset(str(root), per_class=6, classes=["0752", "0772"], seed=2)
    synthetic.folder_dataset(str(root), per_class=1, classes=["0794"], seed=3)
    result = recpack("list", tmp_path / "ds", root, "--train-ratio", "0.75", check=False)
    assert result.returncode == 1
    assert "1 of 3 classes would have no image in the train list: 0794" in result.stderr
    assert not list(tmp_path.glob("ds*"))
    recpack("list", tmp_path / "ds", root, "--train-ratio", "0.75", "--classes", "0752,0772")


def test_pack_names_images_smaller_than_the_training_shape(birds, tmp_path, recpack):
    recpack("list", tmp_path / "ds", birds)
    warned = recpack("pack", tmp_path / "ds", birds, "--resize", "100")
    lines = [line for line in warned.stderr.splitlines() if "smaller than 224 px" in line]
    assert len(lines) == 1
    assert lines[0].startswith("recpack: warning: ds.rec: 48 images are smaller than 224 px")
    assert "and 43 more" in lines[0] and "--resize 224" in lines[0]
    assert "smaller than" not in recpack("pack", tmp_path / "ds", birds, "--resize", "224").stderr
    assert "smaller than" not in recpack("pack", tmp_path / "ds", birds, "--min-size", "0").stderr
    custom = recpack("pack", tmp_path / "ds", birds, "--resize", "100", "--min-size", "101").stderr
    assert "48 images are smaller than 101 px" in custom

import os

import pytest

from recpack import synthetic
from recpack.dataset.discovery import discover
from recpack.errors import DatasetError


def lines(path):
    return path.read_text().splitlines()


def test_labels_follow_sorted_folders_and_extensions_are_case_insensitive(tmp_path):
    root = tmp_path / "images"
    for folder, names in {
        "b_wren": ["1.JPG", "2.jpeg", "notes.txt"],
        "a_owl": ["x.png", "y.Png"],
        "c_empty": [],
    }.items():
        (root / folder).mkdir(parents=True)
        for name in names:
            (root / folder / name).write_bytes(b"x")
    dataset = discover(str(root))
    assert [(c.label, c.class_id) for c in dataset.classes] == [(0, "a_owl"), (1, "b_wren")]
    assert [(i.index, i.path, i.label) for i in dataset.images] == [
        (0, "a_owl/x.png", 0),
        (1, "a_owl/y.Png", 0),
        (2, "b_wren/1.JPG", 1),
        (3, "b_wren/2.jpeg", 1),
    ]
    assert [i.path for i in discover(str(root), exts=[".png"]).images] == [
        "a_owl/x.png",
        "a_owl/y.Png",
    ]


def test_stratified_split_puts_every_class_in_validation_and_is_reproducible(tmp_path, recpack):
    root = tmp_path / "images"
    for n, folder in zip((3, 5, 40), ("rare", "some", "many"), strict=False):
        (root / folder).mkdir(parents=True)
        for i in range(n):
            (root / folder / f"{i}.jpg").write_bytes(b"x")
    recpack("list", tmp_path / "a", root, "--train-ratio", "0.75")
    recpack("list", tmp_path / "b", root, "--train-ratio", "0.75")
    assert (tmp_path / "a_train.lst").read_bytes() == (tmp_path / "b_train.lst").read_bytes()
    val_labels = {line.split("\t")[1] for line in lines(tmp_path / "a_val.lst")}
    assert val_labels == {"0.000000", "1.000000", "2.000000"}
    assert len(lines(tmp_path / "a_train.lst")) == 2 + 3 + 30
    labels = lines(tmp_path / "a_labels.tsv")
    assert labels[0] == "label\tclass_id\tname\ttrain\tval"
    assert labels[1:] == ["0\tmany\tmany\t30\t10", "1\trare\trare\t2\t1", "2\tsome\tsome\t3\t2"]
    recpack("list", tmp_path / "c", root, "--train-ratio", "0.75", "--seed", "5")
    assert (tmp_path / "c_train.lst").read_bytes() != (tmp_path / "a_train.lst").read_bytes()


def test_ratio_one_writes_a_single_list_and_test_ratio_a_test_list(birds, tmp_path, recpack):
    recpack("list", tmp_path / "all", birds)
    assert (tmp_path / "all.lst").exists() and not (tmp_path / "all_train.lst").exists()
    recpack("list", tmp_path / "three", birds, "--train-ratio", "0.6", "--test-ratio", "0.2")
    counts = [len(lines(tmp_path / f"three_{s}.lst")) for s in ("train", "val", "test")]
    assert sum(counts) == 48 and counts == [28, 12, 8]
    all_paths = [
        line.split("\t")[2]
        for s in ("train", "val", "test")
        for line in lines(tmp_path / f"three_{s}.lst")
    ]
    assert len(set(all_paths)) == 48


def test_no_shuffle_keeps_listing_order(birds, tmp_path, recpack):
    recpack("list", tmp_path / "x", birds, "--no-shuffle")
    indices = [int(line.split("\t")[0]) for line in lines(tmp_path / "x.lst")]
    assert indices == sorted(indices)


@pytest.fixture(scope="module")
def nabirds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nabirds")
    synthetic.nabirds_dataset(
        str(folder), per_class=6, seed=3, extra_classes={"1": "Birds", "22": "Perching Birds"}
    )
    return folder


def test_nabirds_layout_from_the_images_folder_or_its_parent(nabirds, tmp_path, recpack):
    from_images = discover(str(nabirds / "images"))
    from_parent = discover(str(nabirds))
    assert from_images.layout == from_parent.layout == "metadata"
    assert [(c.label, c.class_id, c.name) for c in from_images.classes] == [
        (0, "752", "Purple Martin"),
        (1, "772", "Northern Cardinal"),
        (2, "794", "American Goldfinch"),
        (3, "842", "Eastern Bluebird"),
    ]
    assert from_images.images[0].path.startswith("0752/")
    assert from_parent.images[0].path.startswith("images/0752/")
    assert all(os.path.isfile(nabirds / "images" / i.path) for i in from_images.images)


def test_classes_select_by_id_or_name(nabirds, tmp_path, recpack):
    dataset = discover(str(nabirds / "images"), classes=["0772", "eastern bluebird"])
    assert [c.name for c in dataset.classes] == ["Northern Cardinal", "Eastern Bluebird"]
    assert [c.label for c in dataset.classes] == [0, 1]
    with pytest.raises(DatasetError, match="'Dodo' matches no class"):
        discover(str(nabirds / "images"), classes=["Dodo"])
    with pytest.raises(DatasetError, match="'22' matches no class with images"):
        discover(str(nabirds / "images"), classes=["22"])


def test_official_split_uses_train_test_split(nabirds, tmp_path, recpack):
    recpack("list", tmp_path / "nb", nabirds / "images", "--split", "official")
    flags = dict(
        line.split() for line in (nabirds / "train_test_split.txt").read_text().splitlines()
    )
    ids = {
        line.split()[1].split("/")[1].split(".")[0]: line.split()[0]
        for line in (nabirds / "images.txt").read_text().splitlines()
    }
    for split_name, flag in (("train", "1"), ("val", "0")):
        for line in lines(tmp_path / f"nb_{split_name}.lst"):
            stem = line.split("\t")[2].split("/")[1].split(".")[0]
            assert flags[ids[stem]] == flag


def test_missing_images_listed_in_metadata_are_reported_not_fatal(tmp_path):
    synthetic.nabirds_dataset(str(tmp_path), per_class=3, seed=1)
    victim = next((tmp_path / "images" / "0752").iterdir())
    victim.unlink()
    dataset = discover(str(tmp_path / "images"))
    assert len(dataset.images) == 11
    assert any("1 images listed in images.txt are not on disk" in w for w in dataset.warnings)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root: None, "does not exist"),
        (lambda root: root.mkdir(), "is empty"),
        (
            lambda root: (
                root.mkdir(),
                (root / "a").mkdir(),
                (root / "a" / "x.txt").write_text("x"),
            ),
            "no images",
        ),
    ],
)
def test_dataset_errors(tmp_path, recpack, make, message):
    root = tmp_path / "root"
    make(root)
    result = recpack("list", tmp_path / "p", root, check=False)
    assert (
        result.returncode == 1
        and message in result.stderr
        and result.stderr.startswith("recpack: error:")
    )


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--train-ratio", "1.5"], 2, "argument --train-ratio: 1.5 is outside (0, 1]"),
        (["--train-ratio", "0"], 2, "argument --train-ratio: 0 is outside (0, 1]"),
        (["--test-ratio", "1"], 2, "argument --test-ratio: 1 is outside [0, 1)"),
        (["--train-ratio", "0.8", "--test-ratio", "0.3"], 1, "must not exceed 1"),
    ],
)
def test_ratio_errors(birds, tmp_path, recpack, args, code, message):
    result = recpack("list", tmp_path / "p", birds, *args, check=False)
    assert result.returncode == code and message in result.stderr


def test_symlink_loops_are_skipped_with_a_warning(tmp_path, recpack):
    root = tmp_path / "images"
    (root / "wren").mkdir(parents=True)
    (root / "wren" / "1.jpg").write_bytes(b"x")
    os.symlink(root, root / "wren" / "loop")
    result = recpack("list", tmp_path / "p", root, "--allow-single-class")
    assert "loops back" in result.stderr
    assert len(lines(tmp_path / "p.lst")) == 1


def test_non_utf8_file_names_are_skipped_with_a_warning(tmp_path, recpack):
    root = tmp_path / "images"
    (root / "wren").mkdir(parents=True)
    (root / "wren" / "ok.jpg").write_bytes(b"x")
    with open(os.path.join(os.fsencode(root / "wren"), b"bad\xff.jpg"), "wb") as f:
        f.write(b"x")
    result = recpack("list", tmp_path / "p", root, "--allow-single-class")
    assert "not valid UTF-8" in result.stderr
    assert [line.split("\t")[2] for line in lines(tmp_path / "p.lst")] == ["wren/ok.jpg"]


def test_chunks_follow_im2rec_names(birds, tmp_path, recpack):
    recpack("list", tmp_path / "c", birds, "--chunks", "2", "--train-ratio", "0.5")
    names = sorted(p.name for p in tmp_path.glob("c_*.lst"))
    assert names == ["c_0_train.lst", "c_0_val.lst", "c_1_train.lst", "c_1_val.lst"]


def test_an_empty_class_folder_is_named(tmp_path, recpack):
    root = tmp_path / "images"
    for folder, count in (("a_owl", 2), ("b_empty", 0), ("c_wren", 2)):
        (root / folder).mkdir(parents=True)
        for i in range(count):
            (root / folder / f"{i}.jpg").write_bytes(b"x")
    result = recpack("list", tmp_path / "p", root)
    assert "folder b_empty has no .jpeg/.jpg/.png images: it is not a class" in result.stderr
    assert "1\tc_wren\tc_wren" in (tmp_path / "p_labels.tsv").read_text()


def test_cub_200_2011_layout(tmp_path):
    """CUB: integer image ids, class folders like 001.Black_footed_Albatross, all metadata beside images/."""
    from PIL import Image as PILImage

    rows = []
    for class_id, folder in ((1, "001.Black_footed_Albatross"), (2, "002.Laysan_Albatross")):
        (tmp_path / "images" / folder).mkdir(parents=True)
        for n in range(3):
            image_id = len(rows) + 1
            name = f"{folder}/{folder.split('.')[1]}_{n:04d}.jpg"
            PILImage.new("RGB", (40, 30)).save(tmp_path / "images" / name)
            rows.append((image_id, name, class_id, n % 2))
    (tmp_path / "images.txt").write_text("".join(f"{i} {p}\n" for i, p, _, _ in rows))
    (tmp_path / "image_class_labels.txt").write_text("".join(f"{i} {c}\n" for i, _, c, _ in rows))
    (tmp_path / "train_test_split.txt").write_text("".join(f"{i} {t}\n" for i, _, _, t in rows))
    (tmp_path / "classes.txt").write_text("1 001.Black_footed_Albatross\n2 002.Laysan_Albatross\n")
    dataset = discover(str(tmp_path))
    assert dataset.layout == "metadata" and dataset.has_official_split
    assert [(c.label, c.class_id, c.name) for c in dataset.classes] == [
        (0, "1", "001.Black_footed_Albatross"),
        (1, "2", "002.Laysan_Albatross"),
    ]
    assert (
        dataset.images[0].path
        == "images/001.Black_footed_Albatross/Black_footed_Albatross_0000.jpg"
    )
    assert [
        c.class_id for c in discover(str(tmp_path), classes=["002.laysan_albatross"]).classes
    ] == ["2"]

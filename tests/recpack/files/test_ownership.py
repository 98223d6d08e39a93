"""Nothing recpack did not create is emptied, overwritten or packed: the marker convention as the
pipeline, explore, list and the demo use it, hit the way a user hits it."""

from pathlib import Path

import pytest

from recpack import synthetic
from recpack.errors import ForeignFolder
from recpack.files.ownership import MARKER, claim_folder, is_owned


def a_users_folder(path):
    path.mkdir(parents=True)
    (path / "thesis.tex").write_text("years of work")
    (path / "photos").mkdir()
    (path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8 a cat")
    return {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}


def untouched(path, before):
    return {p: p.read_bytes() for p in path.rglob("*") if p.is_file()} == before


def listed_paths(list_file):
    return [line.split("\t")[-1] for line in Path(list_file).read_text().splitlines()]


@pytest.fixture
def photos(tmp_path):
    """images/ with four species and nothing else, as a student has it."""
    root = tmp_path / "images"
    synthetic.folder_dataset(str(root), per_class=5, seed=11)
    return root


# --- the convention itself ---------------------------------------------------------------------------


def test_a_new_or_empty_folder_is_claimed_and_a_marked_one_reused(tmp_path):
    new = claim_folder(str(tmp_path / "new" / "deeper"), "test folder", "--out")
    assert is_owned(new) and (Path(new) / MARKER).read_text().startswith("recpack test folder")
    (tmp_path / "empty").mkdir()
    assert is_owned(claim_folder(str(tmp_path / "empty"), "test folder", "--out"))
    (Path(new) / "written-by-recpack.txt").write_text("x")
    assert claim_folder(new, "test folder", "--out") == new  # reused, contents kept


def test_a_folder_with_the_users_files_is_refused_and_left_as_it_was(tmp_path):
    before = a_users_folder(tmp_path / "mine")
    with pytest.raises(ForeignFolder, match=r"--work-dir .*mine.* holds files recpack did not"):
        claim_folder(str(tmp_path / "mine"), "pipeline work folder", "--work-dir")
    assert untouched(tmp_path / "mine", before) and not is_owned(str(tmp_path / "mine"))


def test_a_file_in_place_of_the_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ForeignFolder, match="is a file, not a folder"):
        claim_folder(str(tmp_path / "notes.txt"), "explore report", "--out")
    assert (tmp_path / "notes.txt").read_text() == "mine"


# --- recpack pipeline --work-dir ---------------------------------------------------------------------


def test_pipeline_refuses_a_work_dir_holding_the_users_files(tmp_path, recpack):
    before = a_users_folder(tmp_path / "Documents")
    result = recpack(
        "pipeline",
        "--bucket",
        "workshop-bucket",
        "--work-dir",
        tmp_path / "Documents",
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("recpack: error: --work-dir ")
    assert "holds files recpack did not create" in result.stderr
    assert result.stderr.count("\n") == 1
    assert untouched(tmp_path / "Documents", before)


# --- recpack explore and recpack list ----------------------------------------------------------------


def test_explore_inside_root_by_default_is_refused_and_list_finds_only_the_photos(photos, recpack):
    # cd images && recpack explore . && recpack list birds .
    explored = recpack("explore", ".", cwd=photos, check=False)
    assert explored.returncode == 1
    assert "recpack: error: the report would be written inside ROOT '.'" in explored.stderr
    assert "pass --out DIR" in explored.stderr
    assert not (photos / "recpack-explore").exists()
    recpack("list", "birds", ".", cwd=photos)
    paths = listed_paths(photos / "birds.lst")
    assert len(paths) == 20 and all(
        p.split("/")[0] in ("0752", "0772", "0794", "0842") for p in paths
    )


def test_a_report_written_inside_root_on_request_is_never_listed(photos, recpack):
    recpack("explore", ".", "--out", "report", "--samples", "2", cwd=photos)
    assert list((photos / "report" / "thumbnails").glob("*.jpg"))  # images a walk would find
    listed = recpack("list", "birds", ".", "--train-ratio", "0.8", cwd=photos)
    assert "skipped report: recpack's own explore report, not a class" in listed.stderr
    paths = listed_paths(photos / "birds_train.lst") + listed_paths(photos / "birds_val.lst")
    assert len(paths) == 20 and not [p for p in paths if p.startswith("report/")]
    labels = (photos / "birds_labels.tsv").read_text()
    assert "report" not in labels and labels.count("\n") == 5


def test_explore_never_writes_into_a_folder_of_the_users(photos, tmp_path, recpack):
    before = a_users_folder(tmp_path / "Desktop")
    result = recpack("explore", photos, "--out", tmp_path / "Desktop", check=False)
    assert result.returncode == 1 and "holds files recpack did not create" in result.stderr
    assert untouched(tmp_path / "Desktop", before)


def test_work_folders_and_temporaries_inside_root_are_not_listed(photos, tmp_path, recpack):
    work = photos / "recpack-work"
    claim_folder(str(work), "pipeline work folder", "--work-dir")
    synthetic.folder_dataset(str(work / "extracted"), per_class=2, seed=3)
    (photos / "0752" / ".0752_0000.jpg.recpack-tmp.4242").write_bytes(b"half a file")
    recpack("list", tmp_path / "birds", photos)
    paths = listed_paths(tmp_path / "birds.lst")
    assert len(paths) == 20 and not [p for p in paths if "recpack" in p]


def test_root_that_is_recpacks_own_folder_is_refused(photos, tmp_path, recpack):
    recpack("explore", photos, "--out", tmp_path / "report", "--samples", "1")
    result = recpack("list", tmp_path / "p", tmp_path / "report", check=False)
    assert result.returncode == 1
    assert "is recpack's own explore report, not a dataset" in result.stderr

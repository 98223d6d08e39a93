"""recpack verify --manifest: a .rec against the manifest upload wrote."""

import json

from recpack.aws.upload import upload
from recpack.cli import main

from .conftest import BUCKET


def test_verify_compares_a_rec_with_its_manifest(s3, tmp_path, capsys):
    from recpack import synthetic

    root = tmp_path / "images"
    synthetic.folder_dataset(str(root), per_class=4, classes=["a", "b"], seed=1)
    prefix = str(tmp_path / "ds")
    assert main(["list", prefix, str(root), "--train-ratio", "0.5"]) == 0
    assert main(["pack", prefix, str(root), "--resize", "32", "--workers", "1"]) == 0
    manifest = upload(prefix, BUCKET, say=lambda line: None)
    capsys.readouterr()
    assert (
        main(["verify", prefix + "_train.rec", "--manifest", f"s3://{BUCKET}/manifest.json"]) == 0
    )
    assert "matches the train entry" in capsys.readouterr().out
    manifest["num_training_samples"] = 99
    manifest["train"]["records"] = 99
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    assert main(["verify", prefix + "_train.rec", "--manifest", str(tmp_path / "m.json")]) == 1
    err = capsys.readouterr().err
    assert "holds 4 records" in err and "num_training_samples is 99" in err
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["verify", prefix + "_val.rec", "--manifest", str(tmp_path / "bad.json")]) == 1
    assert "not valid JSON" in capsys.readouterr().err

"""The Folder source for a user's own images and the meta.json format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gad.data.sources import DataLayoutError, Folder, MetaJson, MVTecAD, write_meta_json
from gad.data.sources.splits import split_normals
from tests.fixtures import raw_datasets as raw


def test_folder_with_categories_masks_and_split(tmp_path: Path) -> None:
    expected = raw.write_folder(tmp_path / "own")
    source = Folder(str(tmp_path / "own"), mask_dir="masks")
    samples = source.samples()
    assert source.has_masks and sorted(samples["category"].unique()) == sorted(expected["categories"])
    widget = samples[samples["category"] == "widget"]
    normals = sorted((tmp_path / "own" / "widget" / "normal").iterdir())
    train, test = split_normals(normals, 0.25, 42)
    assert sorted(widget.loc[widget["split"] == "train", "path"]) == sorted(map(str, train))
    assert sorted(widget.loc[(widget["split"] == "test") & (widget["label"] == 0), "path"]) == sorted(map(str, test))
    anomalous = widget[widget["label"] == 1]
    assert len(anomalous) == expected["anomalous"] and sorted(anomalous["defect"].unique()) == ["dent", "scratch"]
    assert all(Path(m).stem == Path(p).stem for p, m in zip(anomalous["path"], anomalous["mask_path"]))


def test_folder_single_category_without_masks_and_with_normal_test_dir(tmp_path: Path) -> None:
    root = tmp_path / "parts"
    for i in range(3):
        raw.image(root / "ok" / f"{i}.png")
        raw.image(root / "ok_test" / f"{i}.png")
        raw.image(root / "ng" / f"{i}.png")
    samples = Folder(str(root), normal_dir="ok", abnormal_dir="ng", normal_test_dir="ok_test").samples()
    assert list(samples["category"].unique()) == ["parts"]
    assert (samples["split"] == "train").sum() == 3 and (samples["label"] == 1).sum() == 3
    assert set(samples.loc[samples["label"] == 1, "defect"]) == {"ng"} and samples["mask_path"].isna().all()


def test_folder_missing_mask_is_named(tmp_path: Path) -> None:
    raw.write_folder(tmp_path / "own", categories=("widget",))
    (tmp_path / "own" / "widget" / "masks" / "dent" / "dent0.png").unlink()
    with pytest.raises(DataLayoutError, match=r"dent0\.jpg has no mask; expected .*masks/dent/dent0\.png"):
        Folder(str(tmp_path / "own"), mask_dir="masks").samples()


def test_meta_json(tmp_path: Path) -> None:
    expected = raw.write_meta_json(tmp_path / "data")
    source = MetaJson(str(tmp_path / "data"), meta="meta_visa.json")
    samples = source.samples()
    assert source.has_masks and list(samples["category"].unique()) == ["candle"]
    assert ((samples["split"] == "train").sum(), (samples["label"] == 0).sum() - 3, (samples["label"] == 1).sum()) == (
        expected["train"],
        expected["test_normal"],
        expected["test_anomalous"],
    )
    anomalous = samples[samples["label"] == 1]
    assert all(Path(m).stem == Path(p).stem for p, m in zip(anomalous["path"], anomalous["mask_path"]))


def test_meta_json_drops_anomalous_training_records_with_a_warning(tmp_path: Path) -> None:
    raw.write_meta_json(tmp_path / "data")
    meta_path = tmp_path / "data" / "meta_visa.json"
    meta = json.loads(meta_path.read_text())
    meta["train"]["candle"].append(meta["test"]["candle"][-1])
    meta_path.write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="left out 1 anomalous training record"):
        samples = MetaJson(str(tmp_path / "data"), meta="meta_visa.json").samples()
    assert (samples["split"] == "train").sum() == 3


def test_meta_json_missing_image_is_named(tmp_path: Path) -> None:
    raw.write_meta_json(tmp_path / "data")
    victim = next((tmp_path / "data" / "visa" / "candle" / "test" / "good").iterdir())
    victim.unlink()
    with pytest.raises(DataLayoutError, match=victim.name):
        MetaJson(str(tmp_path / "data"), meta="meta_visa.json").samples()


def test_meta_json_export_round_trip(tmp_path: Path) -> None:
    raw.write_mvtec(tmp_path / "mvtec")
    source = MVTecAD(str(tmp_path / "mvtec"))
    write_meta_json(source, tmp_path / "mvtec" / "meta.json")
    meta = json.loads((tmp_path / "mvtec" / "meta.json").read_text())
    assert any(r["mask_path"].startswith("bottle/ground_truth/") for r in meta["test"]["bottle"])
    again = MetaJson(str(tmp_path / "mvtec")).samples()
    original = source.samples()
    assert sorted(again["path"]) == sorted(original["path"])
    assert again.sort_values("path")["label"].tolist() == original.sort_values("path")["label"].tolist()

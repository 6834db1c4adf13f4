"""Sets of normal images only: readable for training, refused (naming what is missing) where a test is needed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gad.data.sources import BTAD, DataLayoutError, Folder, MetaJson, MVTecLayout
from gad.data.sources.check import check_source
from tests.fixtures import raw_datasets as raw


def test_mvtec_layout_without_test_folder(tmp_path: Path) -> None:
    raw.write_mvtec(tmp_path / "mvtec", train=4)
    shutil.rmtree(tmp_path / "mvtec" / "bottle" / "test")
    source = MVTecLayout(str(tmp_path / "mvtec"))
    samples = source.samples(need_test=False)
    bottle = samples[samples["category"] == "bottle"]
    assert len(bottle) == 4 and (bottle["split"] == "train").all()
    assert (samples[samples["category"] == "cable"]["split"] == "test").any()  # the other category keeps its test
    assert list(source.missing_test()) == ["bottle"]
    with pytest.raises(DataLayoutError, match=r"missing folder .*bottle/test: bottle has no test split"):
        source.samples()
    assert MVTecLayout(str(tmp_path / "mvtec"), ["cable"]).samples()["split"].eq("test").any()  # not chosen: fine


def test_btad_missing_test_is_reported_under_the_displayed_name(tmp_path: Path) -> None:
    raw.write_btad(tmp_path / "btad")
    shutil.rmtree(tmp_path / "btad" / "02" / "test")
    source = BTAD(str(tmp_path / "btad"))
    assert list(source.missing_test()) == ["wood"]
    with pytest.raises(DataLayoutError, match=r"missing folder .*02/test: wood has no test split"):
        source.samples()


def test_folder_without_abnormal_is_a_training_pool(tmp_path: Path) -> None:
    for i in range(5):
        raw.image(tmp_path / "parts" / "normal" / f"{i}.png", seed=i)
    source = Folder(str(tmp_path / "parts"))
    samples = source.samples(need_test=False)
    assert len(samples) == 5 and (samples["split"] == "train").all()  # no share kept back for a test
    with pytest.raises(DataLayoutError, match=r"missing folder .*parts/abnormal: parts has no test split"):
        source.samples()


def test_meta_json_without_test_records(tmp_path: Path) -> None:
    raw.write_meta_json(tmp_path / "data")
    meta_path = tmp_path / "data" / "meta_visa.json"
    meta = json.loads(meta_path.read_text())
    del meta["test"]
    meta_path.write_text(json.dumps(meta))
    source = MetaJson(str(tmp_path / "data"), meta="meta_visa.json")
    assert len(source.samples(need_test=False)) == 3 and not source.has_masks
    with pytest.raises(DataLayoutError, match=r'meta_visa.json has no "test" records of candle'):
        source.samples()


def test_check_counts_a_normal_only_set_and_says_so(tmp_path: Path) -> None:
    raw.write_mvtec(tmp_path / "mvtec", categories=("bottle",))
    shutil.rmtree(tmp_path / "mvtec" / "bottle" / "test")
    report = check_source(MVTecLayout(str(tmp_path / "mvtec")), progress=False)
    assert report.ok and report.counts.loc["total"].tolist() == [3, 0, 0, 0]
    assert "bottle/test" in report.missing_test["bottle"]

"""Readers of the datasets read as downloaded: MVTec AD, MPDD, MVTec 3D-AD, VisA, BTAD, RESC, BraTS."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from gad.data.datamodule import FewShotDataModule
from gad.data.preprocessing import Preprocessing
from gad.data.sources import BTAD, MPDD, RESC, SAMPLE_COLUMNS, BraTS, MVTec3D, MVTecAD, VisA
from tests.fixtures import raw_datasets as raw


def counts(samples: pd.DataFrame) -> dict[str, tuple[int, int, int]]:
    """category -> (train normals, test normals, test anomalies)."""
    out = {}
    for category, group in samples.groupby("category"):
        test = group[group["split"] == "test"]
        out[category] = (
            int((group["split"] == "train").sum()),
            int((test["label"] == 0).sum()),
            int((test["label"] == 1).sum()),
        )
    return out


def check_table(samples: pd.DataFrame, expected: dict, with_masks: bool = True) -> None:
    assert list(samples.columns) == list(SAMPLE_COLUMNS)
    assert sorted(samples["category"].unique()) == sorted(expected["categories"])
    wanted = (expected["train"], expected["test_normal"], expected["test_anomalous"])
    assert set(counts(samples).values()) == {wanted}
    train = samples[samples["split"] == "train"]
    assert (train["label"] == 0).all() and (train["defect"] == "good").all() and train["mask_path"].isna().all()
    normal_test = samples[(samples["split"] == "test") & (samples["label"] == 0)]
    assert normal_test["mask_path"].isna().all() and (normal_test["defect"] == "good").all()
    anomalous = samples[samples["label"] == 1]
    assert (anomalous["defect"] != "good").all()
    if with_masks:
        assert anomalous["mask_path"].map(lambda p: Path(p).is_file()).all()
    assert samples["path"].map(lambda p: Path(p).is_file()).all()


def test_mvtec_ad(tmp_path: Path) -> None:
    expected = raw.write_mvtec(tmp_path / "mvtec")
    samples = MVTecAD(str(tmp_path / "mvtec")).samples()
    check_table(samples, expected)
    anomalous = samples[samples["label"] == 1]
    assert all(Path(m).name == Path(p).stem + "_mask.png" for p, m in zip(anomalous["path"], anomalous["mask_path"]))
    assert sorted(anomalous["defect"].unique()) == ["broken", "crack"]


def test_dictas_converted_mvtec_masks_have_the_image_name(tmp_path: Path) -> None:
    expected = raw.write_mvtec(tmp_path / "mvtec", mask_suffix="")
    check_table(MVTecAD(str(tmp_path / "mvtec"), mask_suffix="").samples(), expected)


def test_mpdd(tmp_path: Path) -> None:
    expected = raw.write_mvtec(tmp_path / "mpdd", categories=("bracket_black", "tubes"))
    source = MPDD(str(tmp_path / "mpdd"), categories=["tubes"])
    check_table(source.samples(), {**expected, "categories": ["tubes"]})
    assert source.name == "mpdd"


def test_mvtec3d_reads_rgb_and_gt_only(tmp_path: Path) -> None:
    expected = raw.write_mvtec3d(tmp_path / "m3d")
    samples = MVTec3D(str(tmp_path / "m3d")).samples()
    check_table(samples, expected)
    assert samples["path"].map(lambda p: Path(p).parent.name == "rgb").all()
    anomalous = samples[samples["label"] == 1]
    assert all(
        Path(m).parent.name == "gt" and Path(m).name == Path(p).name
        for p, m in zip(anomalous["path"], anomalous["mask_path"])
    )
    with_validation = MVTec3D(str(tmp_path / "m3d"), include_validation=True).samples()
    assert set(counts(with_validation).values()) == {(expected["train"] + expected["validation"], 2, 2)}


def test_visa_follows_1cls_csv(tmp_path: Path) -> None:
    expected = raw.write_visa(tmp_path / "visa")
    samples = VisA(str(tmp_path / "visa")).samples()
    check_table(samples, expected)
    assert samples["path"].str.endswith(".JPG").all()
    assert set(samples.loc[samples["label"] == 1, "defect"]) == {"anomaly"}
    train = samples[samples["split"] == "train"]
    assert sorted(Path(p).name for p in train[train["category"] == "candle"]["path"]) == [
        "0000.JPG",
        "0001.JPG",
        "0002.JPG",
    ]


def test_visa_label_masks_are_binarized_in_batches(tmp_path: Path) -> None:
    raw.write_visa(tmp_path / "visa")
    raw.write_mvtec(tmp_path / "mvtec")
    datamodule = FewShotDataModule(
        MVTecAD(str(tmp_path / "mvtec")), VisA(str(tmp_path / "visa")), batch_size=4, eval_batch_size=16
    )
    datamodule.preprocessing = Preprocessing(16)
    (loader,) = datamodule.test_dataloader()
    batch = next(iter(loader))
    assert set(batch.mask.unique().tolist()) == {0.0, 1.0}
    torch.testing.assert_close(batch.mask.flatten(1).amax(dim=1), batch.label.float())


def test_btad_names_extensions_and_masks(tmp_path: Path) -> None:
    expected = raw.write_btad(tmp_path / "btad")
    samples = BTAD(str(tmp_path / "btad")).samples()
    check_table(samples, expected)
    masks = samples[samples["label"] == 1].set_index("category")["mask_path"]
    assert masks["metal1"].str.endswith(".png").all() and masks["metal2"].str.endswith(".bmp").all()
    assert samples[samples["category"] == "wood"]["path"].str.endswith(".png").all()
    assert set(samples.loc[samples["label"] == 1, "defect"]) == {"ko"}
    plain = BTAD(str(tmp_path / "btad"), rename=False, categories=["02"]).samples()
    assert list(plain["category"].unique()) == ["02"]


def test_resc(tmp_path: Path) -> None:
    expected = raw.write_resc(tmp_path / "resc")
    samples = RESC(str(tmp_path / "resc")).samples()
    check_table(samples, expected)
    anomalous = samples[samples["label"] == 1]
    assert all(Path(m).name == Path(p).name for p, m in zip(anomalous["path"], anomalous["mask_path"]))


def test_brats_masks_replace_flair_with_seg(tmp_path: Path) -> None:
    expected = raw.write_brats(tmp_path / "brats")
    samples = BraTS(str(tmp_path / "brats")).samples()
    check_table(samples, expected)
    anomalous = samples[samples["label"] == 1]
    assert all(
        Path(m).name == Path(p).name.replace("flair", "seg") for p, m in zip(anomalous["path"], anomalous["mask_path"])
    )


def test_default_names_are_distinct_for_target_suites() -> None:
    """Results, manifests and logged keys are per source name: no two datasets of a suite may share a default."""
    names = [source("x").name for source in (VisA, BTAD, MVTec3D, RESC, BraTS, MPDD, MVTecAD)]
    assert len(set(names)) == len(names), names
    assert VisA("x", name="own").name == "own"

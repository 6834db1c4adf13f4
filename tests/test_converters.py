"""Converters: the published split rules, deterministic and idempotent output, the source left untouched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gad.data.converters import (
    MANIFEST_NAME,
    AITEXConverter,
    BrainMRIConverter,
    CIFAR10Converter,
    ConversionError,
    ELPVConverter,
    HeadCTConverter,
    KolektorSDDConverter,
    MNISTConverter,
)
from gad.data.sources import AITEX, CIFAR10, ELPV, MNIST, BrainMRI, DataLayoutError, HeadCT, KolektorSDD
from gad.data.sources.splits import split_normals
from tests.fixtures import raw_datasets as raw


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def convert(converter, writer, tmp_path: Path, **kwargs):
    src, dst = tmp_path / "raw", tmp_path / "out"
    expected = writer(src)
    before = raw.snapshot(src)
    result = converter(progress=False, **kwargs).prepare(src, dst)
    assert result.status == "written" and raw.snapshot(src) == before
    return expected, src, dst


def test_split_rule_is_train_test_split_with_seed_42() -> None:
    items = [f"{i:03d}" for i in range(98)]
    train, test = split_normals(items)
    assert (len(train), len(test)) == (73, 25)  # BrainMRI: 98 normal images
    permutation = np.random.RandomState(42).permutation(98)
    assert test == [items[i] for i in permutation[:25]] and train == [items[i] for i in permutation[25:]]
    assert split_normals(list(range(100)))[1] == split_normals(list(range(100)))[1]
    assert len(split_normals(list(range(100)))[0]) == 75  # HeadCT: 75 training normals, 25 test normals


def test_elpv(tmp_path: Path) -> None:
    expected, src, dst = convert(ELPVConverter, raw.write_elpv, tmp_path)
    normal = [f"cell{i:04d}.png" for i in range(1, 9)]
    train, test = split_normals(normal)
    assert names(dst / "elpv" / "train" / "good") == sorted(train) and names(dst / "elpv" / "test" / "good") == sorted(
        test
    )
    assert names(dst / "elpv" / "test" / "mono") == ["cell0009.png"]
    assert names(dst / "elpv" / "test" / "poly") == ["cell0010.png", "cell0011.png", "cell0012.png"]
    manifest = json.loads((dst / MANIFEST_NAME).read_text())
    assert manifest["notes"]["left_out_uncertain"] == expected["left_out"] and manifest["settings"]["seed"] == 42
    samples = ELPV(str(dst)).samples()
    assert (samples["split"] == "train").sum() == 6 and (samples["label"] == 1).sum() == 4
    assert samples["mask_path"].isna().all() and not ELPV(str(dst)).has_masks


def test_brainmri(tmp_path: Path) -> None:
    expected, src, dst = convert(BrainMRIConverter, raw.write_brainmri, tmp_path)
    train, test = split_normals(sorted(expected["normal"]))
    category = dst / "brainmri"
    assert names(category / "train" / "good") == sorted(train) and names(category / "test" / "good") == sorted(test)
    assert names(category / "test" / "defect") == sorted(expected["anomalous"])
    assert (category / "test" / "good" / test[0]).read_bytes() == (
        src / "brain_tumor_dataset" / "no" / test[0]
    ).read_bytes()
    samples = BrainMRI(str(dst)).samples()
    assert len(samples) == 13 and list(samples["category"].unique()) == ["brainmri"]


def test_headct(tmp_path: Path) -> None:
    expected, src, dst = convert(HeadCTConverter, raw.write_headct, tmp_path)
    train, test = split_normals(expected["normal"])
    assert names(dst / "headct" / "train" / "good") == sorted(train) and len(test) == 2
    assert names(dst / "headct" / "test" / "defect") == expected["anomalous"]
    samples = HeadCT(str(dst)).samples()
    assert ((samples["split"] == "train").sum(), (samples["label"] == 1).sum()) == (6, 4)


def test_kolektorsdd_strips(tmp_path: Path) -> None:
    expected, src, dst = convert(KolektorSDDConverter, raw.write_kolektor, tmp_path)
    category = dst / "sdd"
    defects = names(category / "test" / "defect")
    assert defects == sorted(
        f"kos{f:02d}_{part}.png" for f in range(1, 4) for part in ("Part0_1", "Part1_0", "Part1_1")
    )
    assert len(names(category / "train" / "good")) + len(names(category / "test" / "good")) == expected["normal"]
    normal_stems = sorted(
        f"kos{f:02d}_Part{k}_{s}"
        for f in range(1, 4)
        for k in range(4)
        for s in range(3)
        if f"kos{f:02d}_Part{k}_{s}.png" not in defects
    )
    train, _ = split_normals(normal_stems)
    assert names(category / "train" / "good") == sorted(f"{s}.png" for s in train)
    strip = np.asarray(Image.open(category / "test" / "defect" / "kos01_Part0_1.png"))
    original = np.asarray(Image.open(src / "kos01" / "Part0.jpg"))
    assert strip.shape == (20, 20) and (strip == original[20:40]).all()
    mask = np.asarray(Image.open(category / "ground_truth" / "defect" / "kos01_Part0_1_mask.png"))
    assert set(np.unique(mask).tolist()) == {0, 255} and mask[5:10, 5:10].all()
    samples = KolektorSDD(str(dst)).samples()
    assert ((samples["split"] == "train").sum(), (samples["label"] == 1).sum()) == (20, 9)
    assert samples.loc[samples["label"] == 1, "mask_path"].notna().all()


def test_aitex_tiles(tmp_path: Path) -> None:
    expected, src, dst = convert(AITEXConverter, raw.write_aitex, tmp_path)
    category = dst / "aitex"
    assert len(names(category / "train" / "good")) == 9 and len(names(category / "test" / "good")) == 3
    for defect, count in expected["defect_tiles"].items():
        assert len(names(category / "test" / defect)) == count
    assert names(category / "test" / "Fuzzyball") == ["0005_019_02_02.png", "0005_019_02_03.png"]
    assert names(category / "test" / "Nep") == ["0006_030_01_00.png", "0006_030_01_03.png"]
    assert np.asarray(Image.open(category / "test" / "Broken_end" / "0004_002_00_01.png")).shape == (16, 16)
    manifest = json.loads((dst / MANIFEST_NAME).read_text())
    assert manifest["notes"]["defect_images_without_mask"] == expected["without_mask"]
    samples = AITEX(str(dst)).samples()
    assert (samples["label"] == 1).sum() == 5 and samples.loc[samples["label"] == 1, "mask_path"].notna().all()


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_idx(tmp_path: Path, gz: bool) -> None:
    src, dst = tmp_path / "raw", tmp_path / "out"
    raw.write_mnist_idx(src, gz=gz)
    MNISTConverter(progress=False).prepare(src, dst)
    assert [len(names(dst / "train" / str(d))) for d in range(10)] == [3] * 10
    assert names(dst / "test" / "4") == ["00004.png", "00014.png"]
    assert np.asarray(Image.open(dst / "train" / "0" / "00000.png")).shape == (28, 28)
    samples = MNIST(str(dst), protocol="multi_class").samples()
    assert ((samples["split"] == "train").sum(), (samples["label"] == 1).sum()) == (15, 10)


def test_cifar10_batches(tmp_path: Path) -> None:
    expected, src, dst = convert(CIFAR10Converter, raw.write_cifar_batches, tmp_path)
    assert [len(names(dst / "train" / c)) for c in raw.CIFAR_CLASSES] == [expected["train_per_class"]] * 10
    image = np.asarray(Image.open(dst / "train" / "airplane" / "00000.png"))
    assert image.shape == (32, 32, 3)
    samples = CIFAR10(str(dst)).samples()
    assert len(samples["category"].unique()) == 10


def test_cifar_loader_refuses_other_pickled_objects(tmp_path: Path) -> None:
    import pickle

    folder = tmp_path / "raw" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": Path("x"), b"labels": []}))
    with pytest.raises(DataLayoutError, match="unexpected object"):
        CIFAR10Converter(progress=False).prepare(tmp_path / "raw", tmp_path / "out")


def test_second_run_verifies_and_writes_nothing(tmp_path: Path) -> None:
    _, src, dst = convert(HeadCTConverter, raw.write_headct, tmp_path)
    before = raw.snapshot(dst)
    result = HeadCTConverter(progress=False).prepare(src, dst)
    assert result.status == "verified" and raw.snapshot(dst) == before
    assert "already prepared" in result.summary()


def test_conversion_is_deterministic(tmp_path: Path) -> None:
    raw.write_kolektor(tmp_path / "raw")
    for out in ("a", "b"):
        KolektorSDDConverter(progress=False).prepare(tmp_path / "raw", tmp_path / out)
    first, second = (json.loads((tmp_path / o / MANIFEST_NAME).read_text()) for o in ("a", "b"))
    assert first["files"] == second["files"]
    for relative in first["files"]:
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()


def test_other_settings_modified_output_and_foreign_folders_are_refused(tmp_path: Path) -> None:
    _, src, dst = convert(HeadCTConverter, raw.write_headct, tmp_path)
    with pytest.raises(ConversionError, match="holds another conversion"):
        HeadCTConverter(seed=0, progress=False).prepare(src, dst)
    victim = next((dst / "headct" / "train" / "good").iterdir())
    victim.unlink()
    with pytest.raises(ConversionError, match="differs from its manifest"):
        HeadCTConverter(progress=False).prepare(src, dst)
    foreign = tmp_path / "foreign"
    (foreign / "x").mkdir(parents=True)
    with pytest.raises(ConversionError, match="not a gad conversion"):
        HeadCTConverter(progress=False).prepare(src, foreign)
    with pytest.raises(ConversionError, match="outside --src"):
        HeadCTConverter(progress=False).prepare(src, src / "converted")


def test_interrupted_conversion_leaves_no_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw.write_headct(tmp_path / "raw")
    (tmp_path / "raw" / "head_ct" / "head_ct" / "011.png").write_bytes(b"")  # copied fine; fail another way:
    monkeypatch.setattr(HeadCTConverter, "convert", lambda self, src, out: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        HeadCTConverter(progress=False).prepare(tmp_path / "raw", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    monkeypatch.undo()
    assert HeadCTConverter(progress=False).prepare(tmp_path / "raw", tmp_path / "out").status == "written"
    assert not (tmp_path / ".out.partial").exists()


@pytest.mark.parametrize(
    ("converter", "writer", "message"),
    [
        (ELPVConverter, raw.write_brainmri, r"no labels.csv in .*looks like the raw BrainMRI download"),
        (HeadCTConverter, raw.write_visa, r"missing .*labels.csv.*looks like the VisA download"),
        (KolektorSDDConverter, raw.write_mvtec, r"no kosXX/PartN.jpg found.*looks like the MVTec AD layout"),
        (AITEXConverter, raw.write_kolektor, r"missing folder .*NODefect_images.*looks like the raw KolektorSDD"),
        (MNISTConverter, raw.write_mnist_png, r"no train-images-idx3-ubyte.*looks like class folders"),
        (CIFAR10Converter, raw.write_mnist_idx, r"no data_batch_1.*looks like the MNIST idx files"),
        (BrainMRIConverter, raw.write_headct, r"missing folder .*no.*looks like the raw HeadCT download"),
    ],
)
def test_wrong_source_names_what_it_looks_like(tmp_path: Path, converter, writer, message: str) -> None:
    writer(tmp_path / "raw")
    with pytest.raises(DataLayoutError, match=message):
        converter(progress=False).prepare(tmp_path / "raw", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError, match=r"source folder .*nowhere does not exist.*labels.csv"):
        ELPVConverter(progress=False).prepare(tmp_path / "nowhere", tmp_path / "out")

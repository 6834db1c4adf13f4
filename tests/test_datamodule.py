"""MVTec-layout reader and the few-shot datamodule on the quickstart data."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gad.data.batch import Batch
from gad.data.datamodule import FewShotDataModule
from gad.data.images import ImageReadError
from gad.data.preprocessing import Preprocessing
from gad.data.quickstart import AUXILIARY_CATEGORIES, TARGET_CATEGORIES
from gad.data.sources import DataLayoutError, MVTecLayout, QuickstartData
from gad.errors import ConfigError


def make_datamodule(root: Path, **kwargs) -> FewShotDataModule:
    datamodule = FewShotDataModule(
        auxiliary=QuickstartData(str(root), list(AUXILIARY_CATEGORIES)),
        target=QuickstartData(str(root), list(TARGET_CATEGORIES)),
        batch_size=5,
        **kwargs,
    )
    datamodule.preprocessing = Preprocessing(64)  # what a model's setup hands over
    return datamodule


def following(datamodule: FewShotDataModule, preprocessing: Preprocessing) -> FewShotDataModule:
    datamodule.preprocessing = preprocessing
    return datamodule


def test_mvtec_layout_table(quickstart_root: Path) -> None:
    samples = MVTecLayout(str(quickstart_root)).samples()
    assert sorted(samples["category"].unique()) == sorted(AUXILIARY_CATEGORIES + TARGET_CATEGORIES)
    train, test = samples[samples["split"] == "train"], samples[samples["split"] == "test"]
    assert (train["label"] == 0).all() and train["mask_path"].isna().all()
    anomalous = test[test["label"] == 1]
    assert anomalous["mask_path"].notna().all() and test[test["label"] == 0]["mask_path"].isna().all()
    for image, mask in zip(anomalous["path"], anomalous["mask_path"]):
        assert Path(mask).name == Path(image).stem + "_mask.png"
        assert Path(mask).parent.name == Path(image).parent.name


def test_batches_have_named_fields_and_aligned_binary_masks(quickstart_root: Path) -> None:
    datamodule = make_datamodule(quickstart_root)
    (loader,) = datamodule.test_dataloader()
    batches = list(loader)
    assert all(isinstance(b, Batch) for b in batches)
    total = sum(len(b) for b in batches)
    assert total == len(datamodule.eval_samples("test"))
    for batch in batches:
        assert batch.image.shape[1:] == (3, 64, 64) and 0 <= batch.image.min() and batch.image.max() <= 1
        assert batch.mask is not None and set(batch.mask.unique().tolist()) <= {0.0, 1.0}
        has_pixels = batch.mask.flatten(1).amax(dim=1)
        torch.testing.assert_close(has_pixels, batch.label.float())
    train = next(iter(datamodule.train_dataloader()))
    assert train.mask is None and set(train.category) <= set(AUXILIARY_CATEGORIES)


def test_validation_defaults_to_auxiliary_test_split(quickstart_root: Path) -> None:
    datamodule = make_datamodule(quickstart_root)
    assert set(datamodule.eval_samples("validate")["category"]) == set(AUXILIARY_CATEGORIES)
    assert set(datamodule.eval_samples("test")["category"]) == set(TARGET_CATEGORIES)


def test_reference_images_and_manifest(quickstart_root: Path, tmp_path: Path) -> None:
    datamodule = make_datamodule(quickstart_root, shots=3, seed=1)
    images = datamodule.reference_images("test")
    assert set(images) == set(TARGET_CATEGORIES)
    assert all(t.shape == (3, 3, 64, 64) for t in images.values())
    saved = datamodule.save_references("test", tmp_path)
    replay = make_datamodule(quickstart_root, shots=3, seed=99, references=str(saved))
    assert replay.reference_set("test").references == datamodule.reference_set("test").references


def test_missing_data_folder_names_the_expected_layout(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError, match=r"does not exist.*ROOT/\{category\}/train/good"):
        MVTecLayout(str(tmp_path / "mvtec")).samples()


def test_unknown_category_lists_the_found_ones(quickstart_root: Path) -> None:
    with pytest.raises(DataLayoutError, match=r"\['bottle'\] not found.*'brick'"):
        MVTecLayout(str(quickstart_root), ["bottle"]).samples()


def test_missing_mask_is_named(quickstart_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(quickstart_root / "gravel", root / "gravel")
    victim = sorted((root / "gravel" / "ground_truth" / "hole").iterdir())[0]
    victim.unlink()
    with pytest.raises(DataLayoutError, match=victim.name):
        MVTecLayout(str(root)).samples()


def test_unreadable_image_is_named(quickstart_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(quickstart_root / "gravel", root / "gravel")
    broken = root / "gravel" / "test" / "good" / "000.png"
    broken.write_bytes(b"not a png")
    datamodule = following(
        FewShotDataModule(MVTecLayout(str(root)), MVTecLayout(str(root)), batch_size=64), Preprocessing(32)
    )
    with pytest.raises(ImageReadError, match=str(broken)):
        next(iter(datamodule.test_dataloader()[0]))


def test_mask_of_another_size_is_refused(quickstart_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(quickstart_root / "gravel", root / "gravel")
    mask = sorted((root / "gravel" / "ground_truth" / "hole").iterdir())[0]
    Image.fromarray(np.zeros((10, 20), dtype=np.uint8)).save(mask)
    datamodule = following(
        FewShotDataModule(MVTecLayout(str(root)), MVTecLayout(str(root)), batch_size=64), Preprocessing(32)
    )
    with pytest.raises(ValueError, match="must be aligned"):
        list(datamodule.test_dataloader()[0])


def test_quickstart_source_generates_on_prepare(tmp_path: Path) -> None:
    source = QuickstartData(str(tmp_path / "qs"), ["coins"], image_size=48)
    source.prepare()
    assert len(source.samples()) > 0 and (tmp_path / "qs" / "coins" / "train" / "good").is_dir()


def test_target_suite_needs_distinct_names(quickstart_root: Path) -> None:
    same = [QuickstartData(str(quickstart_root), ["coins"]), QuickstartData(str(quickstart_root), ["gravel"])]
    with pytest.raises(ConfigError, match="distinct names"):
        FewShotDataModule(QuickstartData(str(quickstart_root)), same)


def test_shorter_side_keeps_aspect_and_masks_follow(tmp_path: Path) -> None:
    """A 2:1 image: squashing keeps both halves, centre cropping keeps the middle square only."""
    root = tmp_path / "wide"
    for folder in ("train/good", "test/defect", "ground_truth/defect"):
        (root / "wide" / folder).mkdir(parents=True)
    image = np.zeros((40, 80, 3), dtype=np.uint8)
    image[:, 60:] = 255  # bright right quarter: outside the centre crop
    mask = np.zeros((40, 80), dtype=np.uint8)
    mask[:, 60:] = 255
    Image.fromarray(image).save(root / "wide" / "train" / "good" / "000.png")
    Image.fromarray(image).save(root / "wide" / "test" / "defect" / "000.png")
    Image.fromarray(mask).save(root / "wide" / "ground_truth" / "defect" / "000_mask.png")
    source = MVTecLayout(str(root))
    squashed = next(iter(following(FewShotDataModule(source, source), Preprocessing(20)).test_dataloader()[0]))
    cropped = next(
        iter(following(FewShotDataModule(source, source), Preprocessing(20, "shorter_side")).test_dataloader()[0])
    )
    assert squashed.mask.sum() == 20 * 5 and squashed.image[0, 0, :, -1].min() > 0.9
    assert cropped.mask.sum() == 0 and cropped.image.max() < 0.1


def test_the_datamodule_follows_the_model(quickstart_root: Path, tmp_path: Path) -> None:
    """No size or resize rule of its own: the model hands its preprocessing over in setup, before any loader."""
    import lightning.pytorch as pl

    from gad.models.components.clip_backbone import ClipConfig
    from gad.models.patch_residual import PatchResidual

    datamodule = FewShotDataModule(
        QuickstartData(str(quickstart_root)), QuickstartData(str(quickstart_root), ["coins"])
    )
    with pytest.raises(ConfigError, match="no preprocessing yet"):
        datamodule.test_dataloader()
    with pytest.raises(ConfigError, match=r"preprocessing.image_size=64 but the backbone 'gad-tiny-vit' takes 112 px"):
        PatchResidual(ClipConfig("gad-tiny-vit", None, [2]), preprocessing=Preprocessing(64))
    model = PatchResidual(ClipConfig("gad-tiny-vit", None, [2]), preprocessing=Preprocessing(112, "shorter_side"))
    trainer = pl.Trainer(logger=False, limit_test_batches=1, default_root_dir=tmp_path, enable_progress_bar=False)
    trainer.test(model, datamodule=datamodule)
    assert datamodule.preprocessing == model.preprocessing == Preprocessing(112, "shorter_side")
    assert model.hparams["preprocessing"] == {"image_size": 112, "resize": "shorter_side", "interpolation": "bicubic"}

"""The method's contract (preprocessing, training pipeline, minimum K, prompts), the reference provider interface
and what reads them: the datamodule, checkpoints, ``trainer.test(model, dataloaders=...)`` and zero-shot methods."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from gad.data.batch import collate_batch
from gad.data.dataset import AnomalyDataset
from gad.data.datamodule import FewShotDataModule
from gad.data.preprocessing import Preprocessing
from gad.data.reference_provider import ImageReferences
from gad.data.references import ReferenceSelectionError, write_manifest
from gad.data.sources import QuickstartData
from gad.errors import ConfigError
from gad.inference.checkpoint import load_module
from gad.metrics.anomaly_metrics import AnomalyMetrics
from gad.models import base
from gad.models.base import CHECKPOINT_KEY, FewShotAnomalyModule
from gad.models.checkpoint_file import write_checkpoint
from gad.models.components.clip_backbone import ClipBackbone, ClipConfig
from gad.models.components.few_shot import NO_SETTINGS, AnomalyPrediction, FewShotModel
from gad.models.contract import MethodContract
from gad.models.dictas import DictAS
from gad.models.dictas.training_data import DictASTrainingPipeline
from gad.models.inctrl import InCTRL, InCTRLTrainingPipeline
from gad.models.patch_residual import PatchResidual

TINY = ClipConfig("gad-tiny-vit", None, [1, 2])


def data(root: Path, shots: int = 2, **kwargs: Any) -> FewShotDataModule:
    return FewShotDataModule(
        QuickstartData(str(root), ["brick"]), QuickstartData(str(root), ["coins"]), shots=shots, batch_size=64, **kwargs
    )


def trainer(folder: Path, **kwargs: Any) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, default_root_dir=folder, **kwargs)


def test_each_method_declares_its_contract_and_checkpoints_carry_it(tmp_path: Path) -> None:
    dictas, inctrl = DictAS(backbone=TINY), InCTRL(backbone=ClipConfig("gad-tiny-vit-b", None, [7, 9, 11], 96))
    assert dictas.contract == MethodContract(
        Preprocessing(112), DictASTrainingPipeline.__module__ + ".DictASTrainingPipeline", 1, "dictas"
    )
    assert inctrl.contract.preprocessing == Preprocessing(96, "shorter_side") and inctrl.contract.prompts == "inctrl"
    assert dictas.model.prompts.prompt_set.name == dictas.contract.prompts
    assert inctrl.model.prompts.prompt_set.name == inctrl.contract.prompts
    assert PatchResidual(TINY).contract.train_pipeline is None
    saved = torch.load(write_checkpoint(dictas, tmp_path / "a.ckpt"), weights_only=True)
    assert MethodContract.from_dict(saved[CHECKPOINT_KEY]["contract"]) == dictas.contract


def test_a_checkpoint_without_contract_still_loads_and_derives_it(tmp_path: Path) -> None:
    module = InCTRL(backbone=ClipConfig("gad-tiny-vit-b", None, [7, 9, 11], 96))
    path = write_checkpoint(module, tmp_path / "old.ckpt")
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint[CHECKPOINT_KEY]["contract"]
    torch.save(checkpoint, path)
    assert load_module(path).contract == module.contract


def test_the_datamodule_trains_with_the_models_pipeline(quickstart_root: Path) -> None:
    contract = DictAS(backbone=TINY).contract
    assert isinstance(contract.training_pipeline(None, "DictAS"), DictASTrainingPipeline)
    own = DictASTrainingPipeline(seed=5)
    assert contract.training_pipeline(own, "DictAS") is own  # the config's settings of the method's own kind
    with pytest.raises(ConfigError, match=r"InCTRLTrainingPipeline but DictAS trains with .*DictASTrainingPipeline"):
        contract.training_pipeline(InCTRLTrainingPipeline(), "DictAS")
    with pytest.raises(ConfigError, match="PatchResidual does not train: remove data.train_pipeline"):
        PatchResidual(TINY).contract.training_pipeline(own, "PatchResidual")
    datamodule, module = data(quickstart_root), DictAS(backbone=TINY)
    module._trainer = SimpleNamespace(datamodule=datamodule)  # what Lightning's setup hook sees
    module.setup("fit")
    assert isinstance(datamodule.train_pipeline, DictASTrainingPipeline)
    assert datamodule.preprocessing == module.preprocessing


def test_k_below_the_methods_minimum_is_one_error(quickstart_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--shots 0: PatchResidual needs at least 1 normal reference"):
        trainer(tmp_path).test(PatchResidual(TINY), datamodule=data(quickstart_root, shots=0))
    with pytest.raises(ConfigError, match="data.shots"):
        data(quickstart_root, shots=-1)


class BrightnessModel(FewShotModel):
    """A zero-shot scorer: brighter than its references' mean (0.5 without references) is anomalous."""

    def encode_references(self, images: Tensor, category: str, settings: Mapping[str, Any] = NO_SETTINGS) -> Tensor:
        return images.mean() if len(images) else torch.tensor(settings.get("level", 0.5))

    def predict(self, images: Tensor, references: Tensor, category: str) -> AnomalyPrediction:
        maps = (images.mean(dim=1, keepdim=True) - references).abs()
        return AnomalyPrediction(score=maps.flatten(1).amax(dim=1), anomaly_map=maps)


class Brightness(FewShotAnomalyModule):
    """A method defined outside gad's files (as a new method folder would): no shared file names it."""

    min_shots = 0

    def __init__(self) -> None:
        super().__init__()
        self.model = BrightnessModel()
        self.model.backbone = ClipBackbone(TINY)  # its size and normalisation: what the datamodule reads
        self._set_preprocessing(None)


def test_a_zero_shot_method_tests_with_k_0(quickstart_root: Path, tmp_path: Path) -> None:
    module = Brightness()
    trainer(tmp_path).test(module, datamodule=data(quickstart_root, shots=0), verbose=False)
    assert set(module.results) == {"coins", "mean"}
    manifest = (tmp_path / "references_quickstart_k0_seed0.json").read_text()
    assert '"coins": []' in manifest


def loader(root: Path, preprocessing: Preprocessing) -> DataLoader:
    datamodule = data(root)
    datamodule.preprocessing = preprocessing
    return DataLoader(
        AnomalyDataset(datamodule.eval_samples("test"), preprocessing, with_masks=True),
        batch_size=64,
        collate_fn=collate_batch,
    )


def test_trainer_test_with_plain_dataloaders_and_image_references(quickstart_root: Path, tmp_path: Path) -> None:
    """The same references given as plain paths give the same numbers as the datamodule's draw."""
    module = PatchResidual(TINY)
    datamodule = data(quickstart_root)
    trainer(tmp_path / "dm").test(module, datamodule=datamodule, verbose=False)
    expected = module.results
    paths = {"coins": datamodule.reference_set("test").paths("coins")}
    module.references = ImageReferences(paths, module.preprocessing, dataset="quickstart")
    trainer(tmp_path / "plain").test(module, dataloaders=loader(quickstart_root, module.preprocessing), verbose=False)
    assert module.results == expected
    assert (tmp_path / "plain" / "references_quickstart_k2_manifest.json").is_file()
    with pytest.raises(ConfigError, match="has no references"):
        trainer(tmp_path).test(PatchResidual(TINY), dataloaders=loader(quickstart_root, module.preprocessing))
    with pytest.raises(ReferenceSelectionError, match="same number of references"):
        ImageReferences({"a": paths["coins"], "b": paths["coins"][:1]}, module.preprocessing)


def test_settings_travel_with_the_references_to_the_torch_model(quickstart_root: Path, tmp_path: Path) -> None:
    module = Brightness()
    module.references = ImageReferences({"coins": []}, module.preprocessing, settings={"level": 2.0})
    trainer(tmp_path).test(module, dataloaders=loader(quickstart_root, module.preprocessing), verbose=False)
    assert module.model._references["coins"].item() == 2.0


def test_dictas_protocol_reaches_the_model_as_a_setting() -> None:
    large = ClipConfig("gad-tiny-vit-l", None, [6, 12, 18, 24])
    module = DictAS(backbone=large, official_protocol=True)
    assert module.evaluation_settings("MVTec", "test") == {"protocol": "mvtec"}
    assert module.evaluation_settings("mvtec", "validate") == {"protocol": None}
    assert DictAS(backbone=large, protocol="visa").evaluation_settings("x", "validate") == {"protocol": "visa"}
    model, images = module.model, torch.rand(2, 3, 112, 112)
    model.set_references("screw", images, {"protocol": "mvtec"})
    model.set_references("bottle", images)
    assert model.inference_settings("screw").rotations and model.inference_settings("screw").alpha == 0.2
    assert model.inference_settings("bottle").alpha == 0.0 and model.protocol is None  # nothing left behind


def test_manifests_are_written_and_announced_once(
    quickstart_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    monkeypatch.setattr(base, "say", said.append)
    fit = trainer(tmp_path, max_epochs=3, limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=0)
    fit.fit(PatchResidual(TINY), datamodule=data(quickstart_root))
    assert len([line for line in said if "references of" in line]) == 1
    chosen = data(quickstart_root).reference_set("validate")
    assert write_manifest(chosen, tmp_path) is None  # identical: not rewritten
    chosen.references["brick"] = chosen.references["brick"][:1]
    assert write_manifest(chosen, tmp_path) == tmp_path / chosen.file_name


def test_metrics_score_transform_hook() -> None:
    metrics = AnomalyMetrics(["a"])
    metrics.update(torch.tensor([0, 0, 0]), torch.tensor([0.9, 0.1, 0.5]), torch.tensor([0, 1, 1]))
    assert metrics.compute()["a"]["image_auroc"] == 0.0
    metrics.transform_scores(lambda scores: -scores)
    assert metrics.compute()["a"]["image_auroc"] == 1.0
    metrics.reset()
    metrics.update(torch.tensor([0, 0]), torch.tensor([0.9, 0.1]), torch.tensor([0, 1]))
    assert metrics.compute()["a"]["image_auroc"] == 0.0  # reset removes the transform

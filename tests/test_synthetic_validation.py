"""The synthetic validation proxy: held out from training, seeded, the same items at every read; and the clear
errors where a test split is needed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from gad.data.datamodule import FewShotDataModule
from gad.data.preprocessing import Preprocessing
from gad.data.dataset import AnomalyDataset
from gad.data.sources import DataLayoutError, MVTecLayout, QuickstartData
from gad.data.synthetic_validation import SyntheticValidation
from gad.models.dictas.training_data import DictASTrainingPipeline
from gad.models.inctrl import InCTRLTrainingPipeline

AUXILIARY = ("brick", "grass")


@pytest.fixture(scope="module")
def normal_only(quickstart_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("normal_only")
    for category in AUXILIARY:
        shutil.copytree(quickstart_root / category / "train" / "good", root / category / "train" / "good")
    return root


def datamodule(auxiliary: Path, target: Path, seed: int = 0, **kwargs) -> FewShotDataModule:
    kwargs.setdefault("train_pipeline", DictASTrainingPipeline())
    data = FewShotDataModule(
        MVTecLayout(str(auxiliary)),
        QuickstartData(str(target), ["coins"]),
        seed=seed,
        batch_size=4,
        eval_batch_size=64,
        shots=2,
        **kwargs,
    )
    data.preprocessing = Preprocessing(32)
    return data


def validation_items(data: FewShotDataModule) -> dict[str, torch.Tensor | list]:
    (loader,) = data.val_dataloader()
    (batch,) = list(loader)
    return {"path": batch.path, "label": batch.label, "image": batch.image, "mask": batch.mask}


def test_proxy_is_held_out_from_training_and_from_references(normal_only: Path, quickstart_root: Path) -> None:
    data = datamodule(normal_only, quickstart_root)
    assert isinstance(data.validation, SyntheticValidation)
    held = set(validation_items(data)["path"])
    assert len(held) == 2 * 4  # 20 % of 16 per category, rounded up
    trained = set(data.train_samples()["path"])
    assert len(trained) == 2 * 12 and not held & trained
    references = data.reference_set("validate")
    assert not {str(normal_only / p) for paths in references.references.values() for p in paths} & held


def test_proxy_items_are_fixed_for_a_seed_and_change_with_it(normal_only: Path, quickstart_root: Path) -> None:
    data = datamodule(normal_only, quickstart_root, seed=3)
    first = validation_items(data)
    again = validation_items(data)  # the next epoch
    rerun = validation_items(datamodule(normal_only, quickstart_root, seed=3))  # another run, same seed
    for items in (again, rerun):
        assert items["path"] == first["path"]
        for key in ("label", "image", "mask"):
            torch.testing.assert_close(items[key], first[key], rtol=0, atol=0)
    labels, masks = first["label"], first["mask"].flatten(1)
    assert labels.tolist().count(1) == 4 and torch.equal(masks.amax(1) > 0, labels.bool())  # 2 of 4 per category
    other = validation_items(datamodule(normal_only, quickstart_root, seed=4))
    assert other["path"] != first["path"] or not torch.equal(other["image"], first["image"])
    assert (
        datamodule(normal_only, quickstart_root, seed=4).reference_set("validate").references
        != data.reference_set("validate").references
    )


def test_proxy_anomalies_come_from_the_pipeline_synthesis(normal_only: Path, quickstart_root: Path) -> None:
    """An anomalous proxy item is its held-out image changed inside its mask only, by the pipeline's synthesis."""
    data = datamodule(normal_only, quickstart_root)
    assert data.validation.synthesizer is data.train_pipeline.synthesizer
    items = validation_items(data)
    index = items["label"].tolist().index(1)
    rows = data.eval_samples("validate")
    plain = AnomalyDataset(rows[rows["path"] == items["path"][index]], Preprocessing(32), with_masks=True)[0]["image"]
    inside = items["mask"][index].bool().expand_as(plain)
    assert inside.any() and not inside.all()
    assert torch.equal(items["image"][index][~inside], plain[~inside])
    assert not torch.equal(items["image"][index][inside], plain[inside])


def test_without_a_synthesis_a_normal_only_auxiliary_set_cannot_be_validated(
    normal_only: Path, quickstart_root: Path
) -> None:
    for pipeline in (None, InCTRLTrainingPipeline()):
        data = datamodule(normal_only, quickstart_root, train_pipeline=pipeline)
        with pytest.raises(DataLayoutError, match=r"missing folder .*brick/test: brick has no test split"):
            data.val_dataloader()
    proxy = datamodule(normal_only, quickstart_root, train_pipeline=InCTRLTrainingPipeline(synthetic_anomalies=True))
    assert isinstance(proxy.validation, SyntheticValidation)


def test_target_and_validation_sets_need_their_test_split(normal_only: Path, quickstart_root: Path) -> None:
    target = FewShotDataModule(QuickstartData(str(quickstart_root), ["coins"]), MVTecLayout(str(normal_only)))
    with pytest.raises(DataLayoutError, match=r"missing folder .*brick/test: brick has no test split"):
        target.test_dataloader()
    validation = datamodule(quickstart_root, quickstart_root, validation=MVTecLayout(str(normal_only)))
    with pytest.raises(DataLayoutError, match=r"missing folder .*brick/test"):
        validation.val_dataloader()

"""DictAS training items: synthetic-anomaly queries, augmented supports, determinism, batching."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from gad.data.batch import collate_batch
from gad.data.dataset import AnomalyDataset, PipelineDataset
from gad.data.preprocessing import Preprocessing
from gad.data.quickstart import AUXILIARY_CATEGORIES
from gad.data.sources import QuickstartData
from gad.data.sources.base import DataLayoutError
from gad.errors import ConfigError
from gad.models.dictas.training_data import DictASTrainingPipeline, support_augmentation

SIZE = 32  # small, so that the statistical tests can afford hundreds of items


@pytest.fixture(scope="module")
def train_rows(quickstart_root: Path) -> pd.DataFrame:
    samples = QuickstartData(str(quickstart_root), categories=list(AUXILIARY_CATEGORIES)).samples()
    return samples[samples["split"] == "train"].reset_index(drop=True)


def _dataset(rows: pd.DataFrame, image_size: int = SIZE, **kwargs: object) -> PipelineDataset:
    return PipelineDataset(rows, Preprocessing(image_size), DictASTrainingPipeline(**kwargs))


def _items(dataset: PipelineDataset, count: int) -> list[dict]:
    return [dataset[i % len(dataset)] for i in range(count)]


def test_item_fields_types_and_ranges(train_rows: pd.DataFrame) -> None:
    dataset = _dataset(train_rows, image_size=48, anomaly_rate=0.5)
    for index in range(12):
        item = dataset[index]
        assert item["image"].shape == (3, 48, 48) and item["image"].dtype == torch.float32
        assert item["mask"].shape == (1, 48, 48) and item["mask"].dtype == torch.float32
        assert item["support"].shape == (1, 3, 48, 48) and item["support"].dtype == torch.float32
        for key in ("image", "support"):
            assert 0.0 <= item[key].min() and item[key].max() <= 1.0
        assert set(item["mask"].unique().tolist()) <= {0.0, 1.0}
        assert item["label"] == int(item["mask"].any()) and isinstance(item["label"], int)
        assert item["defect"] == ("synthetic" if item["label"] else "good")
        assert item["category"] == train_rows["category"][index] and item["path"] == train_rows["path"][index]


def test_anomaly_rate_is_about_thirty_percent(train_rows: pd.DataFrame) -> None:
    labels = np.array([item["label"] for item in _items(_dataset(train_rows), 480)])
    # 0.3 minus the few empty Perlin regions; the binomial standard deviation is 0.021.
    assert 0.22 < labels.mean() < 0.36
    assert not any(item["label"] for item in _items(_dataset(train_rows, anomaly_rate=0.0), 48))
    assert np.mean([item["label"] for item in _items(_dataset(train_rows, anomaly_rate=1.0), 48)]) > 0.8


def test_synthetic_anomaly_changes_only_the_masked_query(train_rows: pd.DataFrame) -> None:
    plain = AnomalyDataset(train_rows, Preprocessing(SIZE), with_masks=False)
    dataset = _dataset(train_rows, anomaly_rate=1.0, support_augment_rate=0.0)
    for index in range(16):
        item, clean = dataset[index], plain[index]["image"]
        assert torch.equal(item["support"][0], clean)  # the support never carries the anomaly
        if item["label"]:
            assert not torch.equal(item["image"], clean)


def test_support_is_augmented_nine_times_in_ten(train_rows: pd.DataFrame) -> None:
    plain = AnomalyDataset(train_rows, Preprocessing(SIZE), with_masks=False)
    items = _items(_dataset(train_rows, anomaly_rate=0.0), 480)
    identical = [torch.equal(item["support"][0], item["image"]) for item in items]
    # A normal query is the plain image, and the support equals it exactly when not augmented.
    assert all(torch.equal(item["image"], plain[i % len(plain)]["image"]) for i, item in enumerate(items))
    assert 0.05 < np.mean(identical) < 0.16
    never = _items(_dataset(train_rows, anomaly_rate=0.0, support_augment_rate=0.0), 24)
    assert all(torch.equal(item["support"][0], item["image"]) for item in never)


def test_same_seed_same_first_epoch_then_new_draws(train_rows: pd.DataFrame) -> None:
    def epoch(dataset: PipelineDataset) -> torch.Tensor:
        return torch.stack([torch.cat([item["image"], item["support"][0]]) for item in _items(dataset, 24)])

    first = _dataset(train_rows, anomaly_rate=0.5, seed=3)
    epoch_one = epoch(first)
    assert torch.equal(epoch_one, epoch(_dataset(train_rows, anomaly_rate=0.5, seed=3)))
    assert not torch.equal(epoch_one, epoch(first))  # the next epoch draws anew
    assert not torch.equal(epoch_one, epoch(_dataset(train_rows, anomaly_rate=0.5, seed=4)))
    first.pipeline.setup(train_rows, Preprocessing(SIZE))  # a new fit starts the stream again
    assert torch.equal(epoch_one, epoch(first))


def test_workers_draw_anew_each_epoch_and_repeat_under_a_torch_seed(train_rows: pd.DataFrame) -> None:
    dataset = _dataset(train_rows.head(8), anomaly_rate=0.5)
    loader = DataLoader(dataset, batch_size=8, num_workers=1, collate_fn=collate_batch)

    def epoch() -> torch.Tensor:
        return next(iter(loader)).support

    torch.manual_seed(0)
    first, second = epoch(), epoch()
    assert not torch.equal(first, second)
    torch.manual_seed(0)
    assert torch.equal(first, epoch())


def test_batches_through_pipeline_dataset_and_collate(train_rows: pd.DataFrame) -> None:
    loader = DataLoader(_dataset(train_rows, anomaly_rate=0.5), batch_size=6, shuffle=True, collate_fn=collate_batch)
    batch = next(iter(loader))
    assert batch.image.shape == (6, 3, SIZE, SIZE) and batch.mask.shape == (6, 1, SIZE, SIZE)
    assert batch.support.shape == (6, 1, 3, SIZE, SIZE)
    assert batch.label.dtype == torch.long and torch.equal(batch.label, batch.mask.flatten(1).amax(1).long())


def test_synthesis_size_differs_from_image_size(train_rows: pd.DataFrame) -> None:
    dataset = _dataset(train_rows, image_size=24, anomaly_rate=1.0, synthesis_size=64)
    item = dataset[0]
    assert item["image"].shape == (3, 24, 24) and item["support"].shape == (1, 3, 24, 24)
    assert set(item["mask"].unique().tolist()) <= {0.0, 1.0}


def test_folder_anomaly_source(train_rows: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError, match="dtd"):
        DictASTrainingPipeline(anomaly_source=str(tmp_path / "dtd"))
    # Any folder of images works, here the quickstart's own.
    dataset = _dataset(train_rows, anomaly_rate=1.0, anomaly_source=str(Path(train_rows["path"][0]).parent))
    assert sum(item["label"] for item in _items(dataset, 8)) > 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"anomaly_rate": 1.5},
        {"support_augment_rate": -0.1},
        {"synthesis_size": 8},
        {"seed": -1},
        {"perlin_scales": []},
        {"beta_max": 2.0},
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        DictASTrainingPipeline(**kwargs)


def test_support_augmentation_arguments_are_known_to_albumentations() -> None:
    """albumentations only warns about unknown (e.g. 1.x) argument names, attributed to the caller's module."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        augment = support_augmentation(336)
    names = [type(t).__name__ for t in augment.transforms]
    assert names == ["RandomRotate90", "Rotate", "HorizontalFlip", "VerticalFlip", "GridDropout", "CoarseDropout"]
    assert augment.transforms[-1].hole_height_range == (10, 10)  # 32 px at 1024 -> 10.5 px at 336

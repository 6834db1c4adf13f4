"""InCTRL's training data: balanced batches, same-category prompts without the query, DDP sharding."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.utilities.data import _update_dataloader
from lightning.fabric.utilities.data import _replace_dunder_methods
from torch.utils.data import BatchSampler, DistributedSampler

from gad.data.datamodule import FewShotDataModule
from gad.data.preprocessing import Preprocessing
from gad.data.sources import QuickstartData
from gad.errors import ConfigError
from gad.models.inctrl import BalancedBatchSampler, InCTRLTrainingPipeline

AUXILIARY = ["brick", "grass", "coffee"]


@pytest.fixture()
def samples(quickstart_root: Path) -> pd.DataFrame:
    return QuickstartData(str(quickstart_root), AUXILIARY).samples()


def pipeline(samples: pd.DataFrame, **options) -> InCTRLTrainingPipeline:
    built = InCTRLTrainingPipeline(**options)
    built.setup(samples, Preprocessing(64, "shorter_side"))
    return built


def test_items_carry_k_prompts(samples: pd.DataFrame) -> None:
    built = pipeline(samples, shots=3)
    anomalous = int(np.flatnonzero(samples["label"].to_numpy() == 1)[0])
    item = built.item(anomalous)
    assert item["support"].shape == (3, 3, 64, 64) and item["image"].shape == (3, 64, 64)
    assert item["label"] == 1 and item["mask"] is None and item["category"] == samples.at[anomalous, "category"]


def test_prompts_are_same_category_normals_without_the_query(samples: pd.DataFrame) -> None:
    built = pipeline(samples, shots=4)
    for index in range(len(samples)):
        for _ in range(5):
            rows = built.prompt_rows(index)
            assert len(set(rows)) == 4 and index not in rows
            assert (samples.loc[rows, "category"] == samples.at[index, "category"]).all()
            assert (samples.loc[rows, "label"] == 0).all()


def test_prompts_may_include_the_query_when_asked(samples: pd.DataFrame) -> None:
    small = samples[(samples["category"] == "brick") & (samples["label"] == 0)].head(3)
    built = pipeline(small, shots=3, include_query=True)
    assert sorted(built.prompt_rows(0)) == [0, 1, 2]
    with pytest.raises(ConfigError, match="'brick' has 3 normal images, 4 are needed"):
        pipeline(small, shots=3)


def test_datamodule_gives_balanced_batches_with_support(quickstart_root: Path) -> None:
    data = FewShotDataModule(
        QuickstartData(str(quickstart_root), AUXILIARY),
        QuickstartData(str(quickstart_root), ["coins"]),
        batch_size=16,
        train_pipeline=InCTRLTrainingPipeline(shots=2, steps_per_epoch=2),
    )
    data.preprocessing = Preprocessing(64, "shorter_side")
    loader = data.train_dataloader()
    batches = list(loader)
    assert len(batches) == len(loader) == 2
    for batch in batches:
        assert batch.support.shape == (16, 2, 3, 64, 64)
        assert batch.label.tolist() == [0] * 8 + [1] * 8
    assert len(data.train_samples()) == len(QuickstartData(str(quickstart_root), AUXILIARY).samples())


def test_sampler_is_balanced_seeded_and_new_each_epoch(samples: pd.DataFrame) -> None:
    labels = samples["label"].tolist()
    sampler = BalancedBatchSampler(range(len(labels)), 8, labels=labels, steps_per_epoch=30, seed=10)
    first, second = list(sampler), list(sampler)
    assert len(first) == 30 and first != second
    assert all([labels[i] for i in batch] == [0] * 4 + [1] * 4 for batch in first)
    again = BalancedBatchSampler(range(len(labels)), 8, labels=labels, steps_per_epoch=30, seed=10)
    assert list(again) == first
    # Cycling permutations: every anomalous image is used before any is repeated.
    anomalous = sum(labels)
    used = [i for batch in first for i in batch[4:]][:anomalous]
    assert Counter(used).most_common(1)[0][1] == 1
    with pytest.raises(ConfigError, match="even"):
        BalancedBatchSampler(range(4), 7, labels=[0, 1, 0, 1])


def test_lightning_ddp_shards_the_balanced_batches(quickstart_root: Path) -> None:
    """What Lightning does under DDP: re-create the batch sampler around a DistributedSampler per rank."""
    data = FewShotDataModule(
        QuickstartData(str(quickstart_root), AUXILIARY),
        QuickstartData(str(quickstart_root), ["coins"]),
        batch_size=8,
        train_pipeline=InCTRLTrainingPipeline(shots=1, steps_per_epoch=20),
    )
    data.preprocessing = Preprocessing(32, "shorter_side")
    with _replace_dunder_methods(BatchSampler):  # as Lightning requests the dataloader
        loader = data.train_dataloader()
    labels = data.train_samples()["label"].tolist()
    seen = []
    for rank in range(2):
        shard = DistributedSampler(loader.dataset, num_replicas=2, rank=rank, shuffle=True, seed=0)
        sampler = _update_dataloader(loader, shard).batch_sampler
        assert isinstance(sampler, BalancedBatchSampler) and sampler.steps_per_epoch == 20
        batches = list(sampler)
        assert len(batches) == 20
        assert all([labels[i] for i in batch] == [0] * 4 + [1] * 4 for batch in batches)
        seen.append({i for batch in batches for i in batch})
        assert seen[-1] <= set(shard)
    assert len(seen[0] & seen[1]) <= 1  # disjoint shards (DistributedSampler pads one by repeating an index)


def test_synthetic_anomalies_from_normal_images_only(samples: pd.DataFrame) -> None:
    normals = samples[samples["split"] == "train"].reset_index(drop=True)
    built = pipeline(normals, shots=2, synthetic_anomalies=True, steps_per_epoch=3)
    n = len(normals)
    assert built.item_count() == 2 * n and built.item_labels() == [0] * n + [1] * n
    plain, synthetic = built.item(5), built.item(n + 5)
    assert (plain["label"], synthetic["label"], synthetic["defect"]) == (0, 1, "synthetic")
    assert synthetic["path"] == plain["path"] and not torch.equal(synthetic["image"], plain["image"])
    assert 5 not in built.prompt_rows(n + 5)
    batches = list(built.batch_sampler(8))
    assert len(batches) == 3 and all([built.item_labels()[i] for i in batch] == [0] * 4 + [1] * 4 for batch in batches)
    assert not InCTRLTrainingPipeline(synthetic_anomalies=True).uses_anomalous_images
    with pytest.raises(ConfigError, match="anomaly_source is used only with synthetic_anomalies"):
        InCTRLTrainingPipeline(anomaly_source="textures")

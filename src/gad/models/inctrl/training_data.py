"""InCTRL training items: labelled auxiliary images in balanced batches, each with K normal prompts of its category.

With ``synthetic_anomalies`` the anomalous half of each batch is DRAEM/Perlin synthesis on normal training images
(the synthesis DictAS trains with), for auxiliary sets without labelled anomalies; the paper uses real ones.

Differences from the official data code, on purpose: the query is left out of its own prompts (the official code
may draw it; ``include_query: true`` restores that), and the batch sampler reads labels from the samples table
instead of loading every image once at start-up.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence, Sized
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import BatchSampler, Sampler, SequentialSampler

from gad.data.dataset import TrainingPipeline, to_tensors
from gad.data.images import read_rgb
from gad.data.preprocessing import Preprocessing
from gad.data.synthesis import PerlinAnomalySynthesizer, texture_source
from gad.errors import ConfigError

__all__ = ["BalancedBatchSampler", "InCTRLTrainingPipeline"]


class BalancedBatchSampler(BatchSampler):
    """``steps_per_epoch`` batches of ``batch_size / 2`` normal and ``batch_size / 2`` anomalous indices, each class
    drawn by cycling fresh random permutations (as the official sampler).

    The indices come from ``sampler``: all rows in one process; under Lightning DDP, Lightning re-creates this
    sampler with its ``DistributedSampler`` (it keeps the other arguments, see
    ``lightning.pytorch.utilities.data._dataloader_init_kwargs_resolve_sampler``), so each rank balances batches
    from its own shard and the ranks see different images. Every rank yields ``steps_per_epoch`` batches, so the
    ranks stay in step. The permutations are seeded from (``seed``, epoch), the epoch counting the iterations.
    """

    def __init__(
        self,
        sampler: Sampler[int] | Sized,
        batch_size: int,
        drop_last: bool = True,
        *,
        labels: Sequence[int],
        steps_per_epoch: int = 100,
        seed: int = 10,
    ) -> None:
        super().__init__(sampler, batch_size, drop_last)  # type: ignore[arg-type]
        if batch_size < 2 or batch_size % 2:
            raise ConfigError(
                f"InCTRL trains on balanced batches: data.batch_size must be even and >= 2, got {batch_size}"
            )
        if steps_per_epoch < 1:
            raise ConfigError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        self.labels = np.asarray(labels, dtype=np.int64)
        self.steps_per_epoch = steps_per_epoch
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return self.steps_per_epoch

    def state_dict(self) -> dict[str, int]:
        """The epoch counter that seeds the permutations (restored when a fit resumes mid-epoch)."""
        return {"epoch": self.epoch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])

    def __iter__(self) -> Iterator[list[int]]:
        indices = np.fromiter(iter(self.sampler), dtype=np.int64)
        normal, anomalous = indices[self.labels[indices] == 0], indices[self.labels[indices] == 1]
        if not len(normal) or not len(anomalous):
            raise ConfigError(
                f"InCTRL needs normal and anomalous training images (this process sees {len(normal)} normal and "
                f"{len(anomalous)} anomalous): the auxiliary set must have labelled anomalies."
            )
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        half = self.batch_size // 2
        normals, anomalies = _cycle(normal, rng), _cycle(anomalous, rng)
        for _ in range(self.steps_per_epoch):
            yield [next(normals) for _ in range(half)] + [next(anomalies) for _ in range(half)]


def _cycle(pool: np.ndarray, rng: np.random.Generator) -> Iterator[int]:
    while True:
        yield from rng.permutation(pool).tolist()


class InCTRLTrainingPipeline(TrainingPipeline):
    """Training items for InCTRL (``train_pipeline`` of ``FewShotDataModule``); reads every auxiliary image with
    its label (e.g. all of MVTec AD: train and test, normal and anomalous; masks are not used).

    Each item: ``image`` (3, H, W) in [0, 1]; ``label``; ``category``, ``defect``, ``path`` of the row; ``mask``
    ``None``; ``support`` (K, 3, H, W): K distinct normal images of the same category, drawn afresh for every
    item, never the query itself unless ``include_query``.

    With ``synthetic_anomalies`` it reads the normal training images only: item ``i < n`` is row ``i`` as it is,
    item ``n + i`` is row ``i`` with a synthetic anomaly (label 1, defect ``synthetic``, never an empty region), so
    the balanced sampler draws its anomalous half from the synthesis.

    Args:
        shots: K for training (official ``--shot``, default 2; its released checkpoints are per K).
        include_query: allow the query among its own prompts, as the official code does.
        steps_per_epoch: batches per epoch (official 100).
        seed: seeds the batch order and every item's prompt draw and anomaly (official RNG_SEED 10).
        synthetic_anomalies: anomalies from the DRAEM/Perlin synthesis instead of labelled ones (off in the
            paper's configs).
        anomaly_source: with ``synthetic_anomalies``, a folder of texture images (DTD's ``images/``); ``None``:
            procedural textures.
    """

    def __init__(
        self,
        shots: int = 2,
        include_query: bool = False,
        steps_per_epoch: int = 100,
        seed: int = 10,
        synthetic_anomalies: bool = False,
        anomaly_source: str | None = None,
    ) -> None:
        if shots < 1:
            raise ConfigError(f"InCTRLTrainingPipeline: shots must be >= 1, got {shots}")
        if anomaly_source is not None and not synthetic_anomalies:
            raise ConfigError("InCTRLTrainingPipeline: anomaly_source is used only with synthetic_anomalies: true")
        self.shots = shots
        self.include_query = include_query
        self.steps_per_epoch = steps_per_epoch
        self.seed = seed
        self.uses_anomalous_images = not synthetic_anomalies
        self.synthesizer = PerlinAnomalySynthesizer(texture_source(anomaly_source)) if synthetic_anomalies else None
        self._built = 0

    def setup(self, samples: pd.DataFrame, preprocessing: Preprocessing) -> None:
        super().setup(samples, preprocessing)
        self._built = 0
        self.normals: dict[str, np.ndarray] = {}
        for category, rows in self.samples.groupby("category", sort=True):
            pool = rows.index[rows["label"] == 0].to_numpy()
            needed = self.shots if self.include_query else self.shots + 1
            if len(pool) < needed:
                raise ConfigError(
                    f"InCTRL training: category {category!r} has {len(pool)} normal images, {needed} are needed for "
                    f"{self.shots} prompts per query{'' if self.include_query else ' (the query excluded)'}: "
                    "lower the pipeline's shots or drop the category."
                )
            self.normals[str(category)] = pool

    def item_count(self) -> int:
        return 2 * len(self.samples) if self.synthesizer is not None else len(self.samples)

    def item_labels(self) -> list[int]:
        """The label of every item (the synthetic copies are anomalous)."""
        labels = self.samples["label"].tolist()
        return labels + [1] * len(labels) if self.synthesizer is not None else labels

    def batch_sampler(self, batch_size: int) -> BalancedBatchSampler:
        return BalancedBatchSampler(
            SequentialSampler(range(self.item_count())),
            batch_size,
            labels=self.item_labels(),
            steps_per_epoch=self.steps_per_epoch,
            seed=self.seed,
        )

    def prompt_rows(self, index: int) -> np.ndarray:
        """Rows of the K prompts of query ``index``: distinct normal images of its category, drawn afresh (never
        the query's own row unless ``include_query``)."""
        row = index % len(self.samples)
        pool = self.normals[self.samples.at[row, "category"]]
        if not self.include_query:
            pool = pool[pool != row]
        return self.item_generator(index).choice(pool, size=self.shots, replace=False)

    def item(self, index: int) -> dict[str, Any]:
        row = self.samples.iloc[index % len(self.samples)]
        image, label, defect = self._load(row["path"]), int(row["label"]), row["defect"]
        if self.synthesizer is not None and index >= len(self.samples):  # the second half: synthetic anomalies
            image, _ = self.synthesizer.on_tensor(image, self.item_generator(index))
            label, defect = 1, "synthetic"
        return {
            "image": image,
            "mask": None,
            "label": label,
            "category": row["category"],
            "defect": defect,
            "path": row["path"],
            "support": torch.stack([self._load(self.samples.at[i, "path"]) for i in self.prompt_rows(index)]),
        }

    def _load(self, path: str) -> Tensor:
        """The image decoded in full and preprocessed as at test time, as the official training does."""
        return to_tensors(self.preprocessing, read_rgb(path))[0]

"""DictAS self-supervised training items: a query with a synthetic anomaly 30 % of the time, and an augmented
copy of the same normal image as its one-shot support.

Follows the official DictAS data code: every op below is the official one with the official probability.
Resolution is the one deliberate difference. The official code PIL-resizes the image to 1024 px (bicubic,
antialiased) and augments the support there, resizes both to 512 px with OpenCV's cubic filter (not antialiased)
and synthesises there, then applies the test preprocessing (PIL bicubic to 336 px). Here the image, decoded in
full, is brought to one working side, ``synthesis_size`` (default: the model's input side), by the model's
preprocessing (its filter and geometry at that side), augmented and synthesised there, then goes through the
model's preprocessing (nothing left to do when the working side is the input side). Every op is defined relative
to the image side (Perlin periods per image, textures resized to the image, rotations, grid units of 1/10 side,
dropout holes of 32/1024 side), so the working side changes the cost, not the distribution, apart from the
pixel-level smoothing of the official chain of three resizes. ``synthesis_size: 512`` synthesises at the
official side (the chain of resizes before it still differs).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import albumentations as A
import cv2
import numpy as np
import pandas as pd

from gad.data.dataset import TrainingPipeline, to_tensors
from gad.data.images import read_rgb
from gad.data.preprocessing import Preprocessing
from gad.data.synthesis import PerlinAnomalySynthesizer, texture_source
from gad.errors import ConfigError

__all__ = ["DictASTrainingPipeline", "support_augmentation"]

# The official dropout holes are 32 px on a 1024 px image.
_HOLE_FRACTION = 32 / 1024


def support_augmentation(size: int) -> A.Compose:
    """The official support transform for ``size`` px images (albumentations 1.3.1 behaviour, 2.x names).

    Explicit where 2.x changed a default: Rotate reflects at the border (1.x default BORDER_REFLECT_101) and
    GridDropout's grid does not move (1.x ``random_offset=False``). CoarseDropout: exactly 8 zero-filled square
    holes of 32/1024 of the side (1.x filled its min_* arguments with the max values).
    """
    hole = max(1, round(_HOLE_FRACTION * size))
    return A.Compose(
        [
            A.RandomRotate90(p=1.0),
            A.Rotate(limit=(30, 270), interpolation=cv2.INTER_LINEAR, border_mode=cv2.BORDER_REFLECT_101, p=1.0),
            A.HorizontalFlip(p=0.5),
            A.VerticalFlip(p=0.5),
            A.GridDropout(ratio=0.3, random_offset=False, fill=0, p=0.5),
            A.CoarseDropout(
                num_holes_range=(8, 8), hole_height_range=(hole, hole), hole_width_range=(hole, hole), fill=0, p=0.5
            ),
        ]
    )


class DictASTrainingPipeline(TrainingPipeline):
    """Training items for DictAS from normal images only (``train_pipeline`` of ``FewShotDataModule``).

    Each item: ``image`` the query (3, H, W) in [0, 1]; ``mask`` (1, H, W) in {0, 1}, the synthetic region;
    ``label`` 1 iff the mask has a pixel; ``defect`` "synthetic" or "good"; ``support`` (1, 3, H, W) in [0, 1];
    ``category`` and ``path`` of the row.

    Randomness: each item has its own generator, seeded from (``seed``, row index, how many items this copy of
    the pipeline has built since ``setup``) and, inside a DataLoader worker, torch's worker seed. So the same
    ``seed`` and sample order give the same first epoch in one process (and with workers when torch is seeded,
    e.g. by ``seed_everything``), while later epochs, and workers, draw new anomalies and augmentations.

    Args:
        anomaly_source: folder of texture images (DTD's ``images/``, searched recursively); ``None``: procedural
            textures, so training works offline (see ``gad.data.synthesis.ProceduralTextures``).
        anomaly_rate: probability that a query gets a synthetic anomaly (official 0.3). The Perlin region may
            come out empty; such a query stays normal (label 0).
        support_augment_rate: probability that the support is augmented rather than the identical image
            (official 0.9).
        perlin_scales: Perlin periods per axis to draw from (official (2, 4); DRAEM (1, 2, 4, 8, 16, 32)).
        beta_max: the original image keeps a weight U[0, beta_max) inside the anomaly (official 0.8).
        synthesis_size: side at which the support is augmented and the anomaly synthesised; ``None``: the model's
            input side (cheapest).
        seed: base of every item's random generator.
    """

    synthesizer: PerlinAnomalySynthesizer  # always set: every DictAS query may get an anomaly

    def __init__(
        self,
        anomaly_source: str | None = None,
        anomaly_rate: float = 0.3,
        support_augment_rate: float = 0.9,
        perlin_scales: Sequence[int] = (2, 4),
        beta_max: float = 0.8,
        synthesis_size: int | None = None,
        seed: int = 0,
    ) -> None:
        for name, value in (("anomaly_rate", anomaly_rate), ("support_augment_rate", support_augment_rate)):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"DictASTrainingPipeline: {name} must be in [0, 1], got {value}")
        if synthesis_size is not None and synthesis_size < 16:
            raise ConfigError(f"DictASTrainingPipeline: synthesis_size must be >= 16 or null, got {synthesis_size}")
        if seed < 0:
            raise ConfigError(f"DictASTrainingPipeline: seed must be >= 0, got {seed}")
        self.anomaly_rate = anomaly_rate
        self.support_augment_rate = support_augment_rate
        self.synthesis_size = synthesis_size
        self.seed = seed
        self.synthesizer = PerlinAnomalySynthesizer(
            texture_source(anomaly_source), scales=tuple(int(s) for s in perlin_scales), beta_max=beta_max
        )
        self._built = 0

    def setup(self, samples: pd.DataFrame, preprocessing: Preprocessing) -> None:
        super().setup(samples, preprocessing)
        self.working = replace(preprocessing, image_size=self.synthesis_size or preprocessing.image_size)
        self.augment_support = support_augmentation(self.working.image_size)
        self._built = 0

    def item(self, index: int) -> dict[str, Any]:
        rng = self.item_generator(index)
        row = self.samples.iloc[index]
        image = self.working.image(read_rgb(row["path"]))
        support = self._support(image, rng) if rng.random() < self.support_augment_rate else image
        query, mask = image, np.zeros(image.shape[:2], dtype=np.uint8)
        if rng.random() < self.anomaly_rate:
            synthetic = self.synthesizer(image, rng)
            query, mask = synthetic.image, synthetic.mask
        # The mask follows the query (bilinear, then >= 0.5, as the official loss binarises it); the label follows
        # the mask the model sees.
        query_tensor, mask_tensor = to_tensors(self.preprocessing, query, mask)
        label = int(mask_tensor.any())
        support_tensor, _ = to_tensors(self.preprocessing, support)
        return {
            "image": query_tensor,
            "mask": mask_tensor,
            "label": label,
            "category": row["category"],
            "defect": "synthetic" if label else "good",
            "path": row["path"],
            "support": support_tensor.unsqueeze(0),
        }

    def _support(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The official augmentation, its randomness drawn from the item's generator (one shared stream, so
        that, e.g., the two flips are independent)."""
        self.augment_support.set_random_state(rng, random.Random(int(rng.integers(2**63))))
        return self.augment_support(image=image)["image"]

"""Torch Datasets over a samples table: plain evaluation items, or training items built by a method's pipeline."""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from typing import Any

import cv2
import numpy as np
import pandas as pd
from torch.utils.data import Dataset, Sampler

from gad.errors import ConfigError
from gad.data.images import ResizeToTensor, read_mask, read_rgb


class AnomalyDataset(Dataset):
    """Rows of a samples table as resized [0, 1] tensors; masks of normal images are all zeros.

    Args:
        samples: a table with ``gad.data.sources.SAMPLE_COLUMNS``.
        image_size: side of the square tensors.
        with_masks: give masks (datasets with pixel annotations) or ``None``.
        center_crop: keep the aspect ratio and crop the centre instead of squashing (see ``ResizeToTensor``).
    """

    def __init__(self, samples: pd.DataFrame, image_size: int, with_masks: bool, center_crop: bool = False) -> None:
        self.samples = samples.reset_index(drop=True)
        self.with_masks = with_masks
        self.transform = ResizeToTensor(image_size, center_crop)
        self.resized_masks = 0

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.samples.iloc[index]
        image = read_rgb(row["path"])
        mask = None
        if self.with_masks:
            has_mask = isinstance(row["mask_path"], str)
            mask = read_mask(row["mask_path"]) if has_mask else np.zeros(image.shape[:2], dtype=np.uint8)
            if mask.shape != image.shape[:2]:
                mask = self._resized_mask(mask, image, row)
        tensor, mask_tensor = self.transform(image, mask)
        return {
            "image": tensor,
            "mask": mask_tensor,
            "label": int(row["label"]),
            "category": row["category"],
            "defect": row["defect"],
            "path": row["path"],
            "index": index,
        }

    def _resized_mask(self, mask: np.ndarray, image: np.ndarray, row: pd.Series) -> np.ndarray:
        """A mask of another size but the same aspect ratio, resized (nearest) with a warning; else an error."""
        (mh, mw), (ih, iw) = mask.shape, image.shape[:2]
        if abs(mw / mh - iw / ih) > 0.01:
            raise ConfigError(
                f"Mask {row['mask_path']} is {mw}x{mh} but image {row['path']} is {iw}x{ih}: masks must be "
                "aligned with their images."
            )
        self.resized_masks += 1
        warnings.warn(
            f"Mask {row['mask_path']} is {mw}x{mh} but its image is {iw}x{ih}: resized with nearest neighbour "
            f"({self.resized_masks} so far in this loader; `gad data check` counts them all).",
            stacklevel=2,
        )
        return cv2.resize(mask, (iw, ih), interpolation=cv2.INTER_NEAREST)


class TrainingPipeline(ABC):
    """How a method turns training rows into training items (synthetic anomalies, support images, ...).

    Items are dicts with the ``Batch`` fields (``image``, ``mask``, ``label``, ``category``, ``defect``, ``path``
    and optionally ``support``). Runs in the DataLoader workers, so it may use numpy/albumentations freely.
    """

    uses_anomalous_images: bool = False
    """True for methods trained with real labelled anomalies (InCTRL): they get every auxiliary image, test split
    included; False (DictAS, self-supervised): only the normal training images."""

    def batch_sampler(self, batch_size: int) -> Sampler[list[int]] | None:
        """A custom batch composition (e.g. balanced normal/anomalous batches); ``None`` = shuffled batches."""
        return None

    _built: int = 0
    """Items built since ``setup``: part of each item's random seed."""

    def state_dict(self) -> dict[str, int]:
        """The counters a resumed fit restores at the start of the interrupted epoch (``gad.data.resumable``)."""
        return {"built": self._built}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._built = int(state["built"])

    def setup(self, samples: pd.DataFrame, image_size: int, center_crop: bool = False) -> None:
        """Called once with the training table before the first item; ``center_crop`` as ``ResizeToTensor``."""
        self.samples = samples.reset_index(drop=True)
        self.image_size = image_size
        self.center_crop = center_crop

    @abstractmethod
    def item(self, index: int) -> dict[str, Any]:
        """The training item of row ``index``."""


class PipelineDataset(Dataset):
    """Training rows through a ``TrainingPipeline``."""

    def __init__(
        self, samples: pd.DataFrame, image_size: int, pipeline: TrainingPipeline, center_crop: bool = False
    ) -> None:
        self.pipeline = pipeline
        self.length = len(samples)
        pipeline.setup(samples, image_size, center_crop)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.pipeline.item(index)

"""Torch Datasets over a samples table: plain evaluation items, or training items built by a method's pipeline."""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, overload

import cv2
import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler, get_worker_info

from gad.data.images import read_mask_file, read_rgb
from gad.data.preprocessing import Preprocessing
from gad.errors import ConfigError

if TYPE_CHECKING:
    from gad.data.synthesis import PerlinAnomalySynthesizer


@overload
def to_tensors(preprocessing: Preprocessing, pixels: np.ndarray, mask: None = None) -> tuple[Tensor, None]: ...
@overload
def to_tensors(preprocessing: Preprocessing, pixels: np.ndarray, mask: np.ndarray) -> tuple[Tensor, Tensor]: ...
def to_tensors(
    preprocessing: Preprocessing, pixels: np.ndarray, mask: np.ndarray | None = None
) -> tuple[Tensor, Tensor | None]:
    """``preprocessing``'s model input as tensors: (3, S, S) float32 in [0, 1] and, given a mask, (1, S, S)."""
    image, resized_mask = preprocessing(pixels, mask)
    return torch.from_numpy(image), None if resized_mask is None else torch.from_numpy(resized_mask)


class AnomalyDataset(Dataset):
    """Rows of a samples table as resized [0, 1] tensors; masks of normal images are all zeros.

    Args:
        samples: a table with ``gad.data.sources.SAMPLE_COLUMNS``.
        preprocessing: the model's (images and masks become its square input).
        with_masks: give masks (datasets with pixel annotations) or ``None``.
    """

    def __init__(self, samples: pd.DataFrame, preprocessing: Preprocessing, with_masks: bool) -> None:
        self.samples = samples.reset_index(drop=True)
        self.with_masks = with_masks
        self.preprocessing = preprocessing
        self.resized_masks = 0
        self.warned_soft_masks = False

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.samples.iloc[index]
        image = read_rgb(row["path"])
        mask = None
        if self.with_masks:
            has_mask = isinstance(row["mask_path"], str)
            mask = self._read_mask(row["mask_path"]) if has_mask else np.zeros(image.shape[:2], dtype=np.uint8)
            if mask.shape != image.shape[:2]:
                mask = self._resized_mask(mask, image, row)
        tensor, mask_tensor = to_tensors(self.preprocessing, image, mask)
        return {
            "image": tensor,
            "mask": mask_tensor,
            "label": int(row["label"]),
            "category": row["category"],
            "defect": row["defect"],
            "path": row["path"],
            "index": index,
        }

    def _read_mask(self, path: str) -> np.ndarray:
        """The binary mask; the first soft (anti-aliased) one of this dataset is warned about."""
        mask = read_mask_file(path)
        if mask.soft_share > 0 and not self.warned_soft_masks:
            self.warned_soft_masks = True
            warnings.warn(
                f"Soft masks: {path} has {mask.soft_share:.0%} of its non-zero pixels between 0 and full scale "
                f"(anti-aliased or blurred edges); masks are binarised at half of full scale (>= {mask.threshold:g}), "
                "not at > 0. Warned once per dataset; `gad data check` lists every such mask.",
                stacklevel=2,
            )
        return mask.binary

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

    synthesizer: PerlinAnomalySynthesizer | None = None
    """The anomaly synthesis of self-supervised training, if any: ``gad fit`` validates on it when the auxiliary
    set has no test split (``gad.data.synthetic_validation``)."""

    def batch_sampler(self, batch_size: int) -> Sampler[list[int]] | None:
        """A custom batch composition (e.g. balanced normal/anomalous batches); ``None`` = shuffled batches."""
        return None

    _built: int = 0
    """Items built since ``setup``: part of each item's random seed."""

    seed: int = 0
    """The pipeline's seed: the first part of each item's random seed."""

    def item_generator(self, index: int) -> np.random.Generator:
        """A fresh stream per item that differs across epochs and DataLoader workers (seed, index, items built so
        far, and the worker's seed)."""
        self._built += 1
        key = [self.seed, index, self._built]
        worker = get_worker_info()
        if worker is not None:
            key.append(worker.seed)
        return np.random.default_rng(key)

    def state_dict(self) -> dict[str, int]:
        """The counters a resumed fit restores at the start of the interrupted epoch (``gad.data.resumable``)."""
        return {"built": self._built}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._built = int(state["built"])

    def setup(self, samples: pd.DataFrame, preprocessing: Preprocessing) -> None:
        """Called once with the training table and the model's preprocessing before the first item."""
        self.samples = samples.reset_index(drop=True)
        self.preprocessing = preprocessing

    def item_count(self) -> int:
        """How many items there are (one per row, unless a pipeline builds several from a row)."""
        return len(self.samples)

    @abstractmethod
    def item(self, index: int) -> dict[str, Any]:
        """The training item of row ``index``."""


class PipelineDataset(Dataset):
    """Training rows through a ``TrainingPipeline``."""

    def __init__(self, samples: pd.DataFrame, preprocessing: Preprocessing, pipeline: TrainingPipeline) -> None:
        self.pipeline = pipeline
        pipeline.setup(samples, preprocessing)
        self.length = pipeline.item_count()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.pipeline.item(index)

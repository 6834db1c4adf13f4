"""What the test report keeps of each test image: its score and ground truth, and small copies of its pixels.

Every test image is kept, so the copies are small: the image at most ``side`` pixels square (uint8), its anomaly
map (float16) and mask (bool) at the same size; about 80 kB per image at 128 px, 200 MB for 2,500 images at 224.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch.nn.functional as F
from torch import Tensor

from gad.data.batch import Batch
from gad.overlay import to_hwc_uint8


@dataclass
class ImageRecord:
    """One test image: ``image`` (S, S, 3) uint8, ``anomaly_map`` (S, S) float16 or ``None`` (image scores only),
    ``mask`` (S, S) bool or ``None`` (no pixel annotations)."""

    dataset: str
    category: str
    defect: str
    path: str
    label: int
    score: float
    image: np.ndarray
    anomaly_map: np.ndarray | None
    mask: np.ndarray | None


class TestRecords:
    """The records of every test image, per dataset, in the order they were scored."""

    __test__ = False  # not a pytest class

    def __init__(self, side: int = 224) -> None:
        self.side = side
        self.by_dataset: dict[str, list[ImageRecord]] = {}

    def update(self, dataset: str, batch: Batch, score: Tensor, anomaly_map: Tensor | None) -> None:
        """Keep a batch (one copy to the CPU per tensor; resized at most once)."""
        images = self._small(batch.image.float(), "bilinear")
        maps = (
            None
            if anomaly_map is None
            else self._small(anomaly_map.float().reshape(len(batch), 1, *anomaly_map.shape[-2:]), "bilinear")
        )
        masks = None if batch.mask is None else self._small(batch.mask.float(), "nearest")
        scores, labels = score.detach().float().cpu().tolist(), batch.label.cpu().tolist()
        kept = self.by_dataset.setdefault(dataset, [])
        for i in range(len(batch)):
            kept.append(
                ImageRecord(
                    dataset,
                    batch.category[i],
                    batch.defect[i],
                    batch.path[i],
                    int(labels[i]),
                    float(scores[i]),
                    to_hwc_uint8(images[i]),
                    None if maps is None else maps[i, 0].numpy().astype(np.float16),
                    None if masks is None else masks[i, 0].numpy() > 0.5,
                )
            )

    def _small(self, tensor: Tensor, mode: str) -> Tensor:
        """(B, C, H, W) on the CPU, the longer side at most ``self.side``."""
        tensor = tensor.detach().cpu()
        height, width = tensor.shape[-2:]
        scale = self.side / max(height, width)
        if scale < 1:
            size = (max(1, round(height * scale)), max(1, round(width * scale)))
            options = {"align_corners": False, "antialias": True} if mode == "bilinear" else {}
            tensor = F.interpolate(tensor, size=size, mode=mode, **options)
        return tensor

    def clear(self) -> None:
        self.by_dataset = {}


def as_arrays(records: list[ImageRecord]) -> tuple[np.ndarray, np.ndarray]:
    """Scores (float64) and labels (int) of records, for metrics and thresholds."""
    return np.array([r.score for r in records], dtype=np.float64), np.array([r.label for r in records], dtype=int)

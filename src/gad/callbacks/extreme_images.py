"""The few best and worst test images of a dataset, kept while testing, for anomaly-map overlays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import Tensor

from gad.data.batch import Batch
from gad.overlay import heatmap_overlay

# kind -> (label of the images it ranks, whether the highest scores are kept)
KINDS = {
    "best_anomalous": (1, True),  # anomalies scored highest
    "worst_anomalous": (1, False),  # anomalies scored lowest (missed)
    "worst_normal": (0, True),  # normal images scored highest (false alarms)
}


@dataclass
class Kept:
    score: float
    category: str
    path: str
    image: Tensor
    anomaly_map: Tensor


@dataclass
class Overlay:
    """One rendered test image: ``caption`` (category, score, path), the image's ``path``, (H, W, 3) uint8 ``image``."""

    caption: str
    path: str
    image: np.ndarray


class ExtremeImages:
    """Keeps, per dataset and kind, the ``count`` images with the most extreme scores (on the CPU, nothing else)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.kept: dict[str, dict[str, list[Kept]]] = {}

    def update(self, dataset: str, batch: Batch, score: Tensor, anomaly_map: Tensor) -> None:
        kinds = self.kept.setdefault(dataset, {kind: [] for kind in KINDS})
        scores, labels = score.detach().float().cpu().tolist(), batch.label.cpu().tolist()  # one copy per batch
        for kind, (label, highest) in KINDS.items():
            rows = [i for i, row_label in enumerate(labels) if row_label == label]
            ranked = sorted(rows, key=lambda i: scores[i], reverse=highest)[: self.count]
            candidates = kinds[kind] + [
                Kept(scores[i], batch.category[i], batch.path[i], batch.image[i].cpu(), anomaly_map[i].float().cpu())
                for i in ranked
            ]
            kinds[kind] = sorted(candidates, key=lambda k: k.score, reverse=highest)[: self.count]

    def overlays(self) -> dict[str, list[Overlay]]:
        """``{"dataset/kind": [Overlay, ...]}`` on one colour range per dataset."""
        result: dict[str, list[Overlay]] = {}
        for dataset, kinds in self.kept.items():
            maps = [k.anomaly_map for kept in kinds.values() for k in kept]
            if not maps:
                continue
            low, high = min(float(m.min()) for m in maps), max(float(m.max()) for m in maps)
            for kind, kept in kinds.items():
                if kept:
                    result[f"{dataset}/{kind}"] = [
                        Overlay(
                            f"{k.category} {k.score:.3f} {k.path}",
                            k.path,
                            heatmap_overlay(k.image, k.anomaly_map, low, high),
                        )
                        for k in kept
                    ]
        return result

    def clear(self) -> None:
        self.kept = {}

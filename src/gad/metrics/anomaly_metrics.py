"""Per-category image and pixel metrics, synchronised across DDP processes by torchmetrics."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.functional.classification import binary_auroc, binary_average_precision

MEAN = "mean"


class AnomalyMetrics(Metric):
    """Collects scores (and maps) per category; ``compute`` gives {category: {metric: value}} plus a ``mean`` row.

    Image metrics: AUROC and AP of the image scores. Pixel metrics (when every update brings masks): AUROC and AP
    over all pixels of the category. A metric that is undefined (one class only) is NaN and left out of the mean.
    """

    full_state_update = False

    def __init__(self, categories: list[str]) -> None:
        super().__init__(compute_on_cpu=True)
        self.categories = list(categories)
        for name in ("category", "score", "label", "anomaly_map", "mask"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, category: Tensor, score: Tensor, label: Tensor, anomaly_map: Tensor | None = None, mask: Tensor | None = None) -> None:
        self.category.append(category.long())
        self.score.append(score.float())
        self.label.append(label.long())
        if anomaly_map is not None and mask is not None:
            self.anomaly_map.append(anomaly_map.float())
            self.mask.append(mask.long())

    def category_index(self, names: list[str]) -> Tensor:
        return torch.tensor([self.categories.index(n) for n in names], device=self.device)

    def compute(self) -> dict[str, dict[str, float]]:
        category, score, label = (_cat(s) for s in (self.category, self.score, self.label))
        with_pixels = len(self.anomaly_map) > 0 and _cat(self.anomaly_map).shape[0] == score.shape[0]
        maps, masks = (_cat(self.anomaly_map), _cat(self.mask)) if with_pixels else (None, None)
        results: dict[str, dict[str, float]] = {}
        for index, name in enumerate(self.categories):
            selected = category == index
            if not bool(selected.any()):
                continue
            row = _binary_metrics("image", score[selected], label[selected])
            if maps is not None:
                row |= _binary_metrics("pixel", maps[selected].flatten(), masks[selected].flatten())
            results[name] = row
        if results:
            keys = next(iter(results.values())).keys()
            results[MEAN] = {k: nanmean([r[k] for r in results.values()]) for k in keys}
        return results


def _binary_metrics(level: str, preds: Tensor, target: Tensor) -> dict[str, float]:
    if target.min() == target.max():
        return {f"{level}_auroc": math.nan, f"{level}_ap": math.nan}
    return {
        f"{level}_auroc": float(binary_auroc(preds, target)),
        f"{level}_ap": float(binary_average_precision(preds, target)),
    }


def _cat(states: list[Tensor] | Tensor) -> Tensor:
    return torch.cat(states) if isinstance(states, list) else states


def nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan

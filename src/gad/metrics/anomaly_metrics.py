"""Per-category image and pixel metrics, synchronised across DDP processes by torchmetrics."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric

from gad.errors import ConfigError
from gad.metrics.curves import aupro_cflow, aupro_exact, bin_scores, binary_metrics, cflow_histogram, histogram
from gad.metrics.regions import overlap_weights
from gad.metrics.undefined import EvaluationCounts, undefined_reasons

MEAN = "mean"
AuproMode = Literal["exact", "cflow200"]
AUPRO_KEYS = {"exact": "pixel_aupro", "cflow200": "pixel_aupro_cflow200"}
ScoreTransform = Callable[[Tensor], Tensor]


@dataclass
class MetricSettings:
    """How the pixel metrics are computed (``--metrics.*`` on the command line).

    Args:
        resolution: side of the square at which maps and masks are compared (the papers: 336); maps are resized
            bilinearly, masks by nearest neighbour. ``None``: as the model outputs them (the input size).
        aupro: AUPRO definitions to report: ``exact`` (exact PRO curve up to FPR 0.3, divided by 0.3, as
            anomalib and MVTec's reference) as ``pixel_aupro``; ``cflow200`` (200 thresholds, FPRs below 0.3
            min-max rescaled, as DictAS and other CLIP anomaly papers) as ``pixel_aupro_cflow200``.
        bins: pixel scores of a category with more pixels than this are counted in this many equal-width bins
            (linear time, equal to the exact values up to ties inside a bin, about 1e-6 at 2**20); smaller
            categories, and all with ``None``, sort their pixels for the exact values. Image metrics are exact.
        fpr_limit: the false-positive rate up to which AUPRO integrates.
    """

    resolution: int | None = None
    aupro: list[AuproMode] = field(default_factory=lambda: ["exact", "cflow200"])
    bins: int | None = 2**20
    fpr_limit: float = 0.3

    def __post_init__(self) -> None:
        unknown = [m for m in self.aupro if m not in AUPRO_KEYS]
        if unknown:
            raise ConfigError(f"metrics.aupro: unknown modes {unknown}; valid: {sorted(AUPRO_KEYS)}")
        if self.resolution is not None and self.resolution < 1 or self.bins is not None and self.bins < 2:
            raise ConfigError(f"metrics: resolution must be positive and bins at least 2, got {self}")
        if not 0 < self.fpr_limit <= 1:
            raise ConfigError(f"metrics.fpr_limit must lie in (0, 1], got {self.fpr_limit}")


class AnomalyMetrics(Metric):
    """Collects scores (and maps) per category; ``compute`` gives {category: {metric: value}} plus a ``mean`` row.

    Image metrics: AUROC, AP and F1-max of the image scores. Pixel metrics (when every update brings masks):
    AUROC, AP, F1-max and AUPRO over all pixels of the category. A metric that is undefined (one class only) is
    NaN and left out of the mean; ``compute`` says why in ``self.undefined`` ({category: {metric: reason}}). Each
    sample carries its index in the evaluated dataset: samples seen twice (the
    padding of a distributed sampler) count once, and all processes together give the numbers of one process.
    ``transform_scores`` sets a test-time transform of the image scores (e.g. DictAS's test-set normalisation),
    applied in ``compute`` to every process's scores in the order they were gathered; ``reset`` removes it.
    """

    full_state_update = False
    # torchmetrics states (``add_state`` below): lists of per-batch tensors, concatenated by a distributed sync.
    index: list[Tensor]
    category: list[Tensor]
    score: list[Tensor]
    label: list[Tensor]
    anomaly_map: list[Tensor]
    mask: list[Tensor]

    def __init__(self, categories: list[str], settings: MetricSettings | None = None) -> None:
        super().__init__(compute_on_cpu=True)
        self.categories = list(categories)
        self.settings = settings or MetricSettings()
        for name in ("index", "category", "score", "label", "anomaly_map", "mask"):
            self.add_state(name, default=[], dist_reduce_fx="cat")
        self._seen = 0
        self._score_transform: ScoreTransform | None = None
        self.undefined: dict[str, dict[str, str]] = {}

    def update(
        self,
        category: Tensor,
        score: Tensor,
        label: Tensor,
        anomaly_map: Tensor | None = None,
        mask: Tensor | None = None,
        index: Tensor | None = None,
    ) -> None:
        """``index``: each sample's position in the evaluated dataset (default: in order of arrival, which is
        only right in a single process)."""
        if index is None:
            index = torch.arange(self._seen, self._seen + len(score), device=score.device)
        self._seen += len(score)
        self.index.append(index.long())
        self.category.append(category.long())
        self.score.append(score.float())
        self.label.append(label.long())
        if anomaly_map is not None and mask is not None:
            maps, masks = self._at_resolution(anomaly_map, mask)
            self.anomaly_map.append(maps)
            self.mask.append(masks)

    def _at_resolution(self, anomaly_map: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """(N, H, W) float32 maps and uint8 masks at the metric resolution."""
        side = self.settings.resolution
        size = (side, side) if side else tuple(mask.shape[-2:])
        maps = anomaly_map.float().reshape(len(anomaly_map), 1, *anomaly_map.shape[-2:])
        masks = mask.reshape(len(mask), 1, *mask.shape[-2:]).float()
        if tuple(maps.shape[-2:]) != size:
            maps = F.interpolate(maps, size=size, mode="bilinear", align_corners=False)
        if tuple(masks.shape[-2:]) != size:
            masks = F.interpolate(masks, size=size, mode="nearest")
        return maps[:, 0], (masks[:, 0] > 0.5).to(torch.uint8)

    def category_index(self, names: list[str]) -> Tensor:
        return torch.tensor([self.categories.index(n) for n in names], device=self.device)

    def transform_scores(self, transform: ScoreTransform) -> None:
        """Have ``compute`` score images by ``transform(scores)`` ((N,) -> (N,), all processes' scores)."""
        self._score_transform = transform
        self._computed = None  # torchmetrics' cached result of an earlier compute

    def reset(self) -> None:
        super().reset()
        self._seen = 0
        self._score_transform = None

    def compute(self) -> dict[str, dict[str, float]]:
        index, category, score, label = (_cat(s) for s in (self.index, self.category, self.score, self.label))
        if self._score_transform is not None:
            score = self._score_transform(score)
        rows = _first_of_each(index)  # positions in dataset order, each sample once
        with_pixels = _count(self.anomaly_map) == len(index) > 0
        results: dict[str, dict[str, float]] = {}
        self.undefined = {}
        for number, name in enumerate(self.categories):
            selected = rows[category[rows] == number]
            if len(selected) == 0:
                continue
            binning = bin_scores(score[selected], None)
            anomalous = label[selected] > 0
            hist = histogram(binning.index, binning.count, anomalous)
            row = {f"image_{k}": v for k, v in binary_metrics(hist).items()}
            counts = EvaluationCounts(int((~anomalous).sum()), int(anomalous.sum()))
            if with_pixels:
                masks = _take(self.mask, selected)
                row |= self._pixel_metrics(_take(self.anomaly_map, selected), masks)
                counts = EvaluationCounts(
                    counts.normal_images, counts.anomalous_images, int(masks.sum()), masks.numel()
                )
            results[name] = row
            if reasons := undefined_reasons(row, counts):
                self.undefined[name] = reasons
        if results:
            keys = next(iter(results.values())).keys()
            results[MEAN] = {k: nanmean([r[k] for r in results.values()]) for k in keys}
        return results

    def _pixel_metrics(self, maps: Tensor, masks: Tensor) -> dict[str, float]:
        scores, positive = maps.reshape(-1), masks.reshape(-1) > 0
        weights = overlap_weights(masks) if self.settings.aupro else None
        bins = self.settings.bins
        binning = bin_scores(scores, None if bins is None or len(scores) <= bins else bins)
        hist = histogram(binning.index, binning.count, positive, weights)
        row = {f"pixel_{k}": v for k, v in binary_metrics(hist).items()}
        limit = self.settings.fpr_limit
        if "exact" in self.settings.aupro:
            row[AUPRO_KEYS["exact"]] = aupro_exact(hist, limit)
        if weights is not None and "cflow200" in self.settings.aupro:
            thresholds = cflow_histogram(binning, hist, scores, positive, weights)
            row[AUPRO_KEYS["cflow200"]] = math.nan if thresholds is None else aupro_cflow(thresholds, limit)
        return row


def _first_of_each(index: Tensor) -> Tensor:
    """Positions of the samples sorted by dataset index, keeping the first of repeated indices."""
    ordered, order = torch.sort(index, stable=True)
    first = torch.ones_like(ordered, dtype=torch.bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return order[first]


def _count(states: list[Tensor] | Tensor) -> int:
    return sum(len(s) for s in states) if isinstance(states, list) else len(states)


def _take(states: list[Tensor] | Tensor, rows: Tensor) -> Tensor:
    """``rows`` of the concatenated states, without concatenating all states first (pixel states are large).
    numpy copies image by image: torch's stack or cat of many images, or index_select, are far slower."""
    chunks = [states] if isinstance(states, Tensor) else states
    ends = torch.tensor([len(c) for c in chunks]).cumsum(0)
    chunk = torch.bucketize(rows, ends, right=True).tolist()
    local = (rows - torch.cat([ends.new_zeros(1), ends])[chunk]).tolist()
    arrays = [c.numpy() for c in chunks]
    return torch.from_numpy(np.concatenate([arrays[c][i : i + 1] for c, i in zip(chunk, local)]))


def _cat(states: list[Tensor] | Tensor) -> Tensor:
    return torch.cat(states) if isinstance(states, list) else states


def nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan

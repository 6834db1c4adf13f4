"""Threshold-curve metrics (AUROC, AP, F1-max, AUPRO) from per-score histograms: one pass over the pixels.

Every curve metric only needs, for each candidate threshold, how many negatives and positives score there and how
much PRO weight they carry. Histograms over the distinct scores (``bins=None``) give exactly what scikit-learn
computes; over ``bins`` equal-width bins between the minimum and maximum score they cost O(n) instead of a sort of
every pixel and differ only by ties inside a bin (about 1e-6 at 2**20 bins).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

CFLOW_STEPS = 200


@dataclass
class Histogram:
    """Per bin, in increasing score order: negatives, positives and PRO weight (float64).

    The PRO weight of a positive pixel is 1 / (area of its ground-truth region x number of regions), so that the
    weight above a threshold is the mean overlap of the regions (``None`` when no PRO is wanted).
    """

    negatives: Tensor
    positives: Tensor
    overlap: Tensor | None = None


def bin_index(scores: Tensor, bins: int | None) -> tuple[Tensor, int]:
    """A monotone bin of each score and the number of bins: the rank among distinct scores (exact) or an
    equal-width bin between the minimum and maximum."""
    if bins is None:
        values, inverse = torch.unique(scores, sorted=True, return_inverse=True)
        return inverse, len(values)
    low, high = torch.aminmax(scores)
    if high <= low:
        return torch.zeros_like(scores, dtype=torch.long), 1
    scaled = (scores - low).mul_(bins / float(high - low))
    return scaled.long().clamp_(max=bins - 1), bins


def cflow_bin_index(scores: Tensor, steps: int = CFLOW_STEPS) -> tuple[Tensor, int] | None:
    """The bins of the cflow-ad AUPRO: for each score, how many of the thresholds ``np.arange(min, max,
    (max - min) / steps)`` lie strictly below it (a pixel counts as anomalous at a threshold it exceeds).
    ``None`` when all scores are equal (the reference code fails there)."""
    low, high = (np.float32(v) for v in torch.aminmax(scores))
    if high <= low:
        return None
    thresholds = torch.from_numpy(np.arange(low, high, (high - low) / np.float32(steps)))
    return torch.bucketize(scores, thresholds.to(scores.dtype)), len(thresholds) + 1


def histogram(index: Tensor, count: int, positive: Tensor, overlap_weight: Tensor | None = None) -> Histogram:
    """Bin counts of negatives and positives (``positive`` is a bool mask over ``index``) and, given the PRO weights
    of the positive pixels (in their order), the PRO weight per bin."""
    total = torch.bincount(index, minlength=count).double()
    positives_index = index[positive]
    positives = torch.bincount(positives_index, minlength=count).double()
    overlap = None
    if overlap_weight is not None:
        overlap = torch.bincount(positives_index, weights=overlap_weight.double(), minlength=count)
    return Histogram(total - positives, positives, overlap)


def _from_top(values: Tensor) -> Tensor:
    """Cumulative sums from the highest bin down: what lies at or above each threshold."""
    return values.flip(0).cumsum(0)


def _prepend_zero(values: Tensor) -> Tensor:
    return torch.cat([values.new_zeros(1), values])


def binary_metrics(hist: Histogram) -> dict[str, float]:
    """AUROC (trapezoidal ROC), AP (step-wise, as sklearn's ``average_precision_score``) and F1-max (best F1 over
    all thresholds); NaN when one class is missing."""
    occupied = (hist.negatives + hist.positives) > 0
    fp, tp = _from_top(hist.negatives[occupied]), _from_top(hist.positives[occupied])
    negatives, positives = float(fp[-1]), float(tp[-1])
    if negatives == 0 or positives == 0:
        return {"auroc": math.nan, "ap": math.nan, "f1_max": math.nan}
    recall, fpr = tp / positives, fp / negatives
    precision = tp / (tp + fp)
    f1 = torch.where(tp > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {
        "auroc": float(torch.trapezoid(_prepend_zero(recall), _prepend_zero(fpr))),
        "ap": float((recall - _prepend_zero(recall)[:-1]).mul(precision).sum()),
        "f1_max": float(f1.max()),
    }


def aupro_exact(hist: Histogram, fpr_limit: float = 0.3) -> float:
    """Area under the exact PRO-vs-FPR curve up to ``fpr_limit`` (the last point interpolated at the limit),
    divided by ``fpr_limit``; in [0, 1]. NaN without regions or without negatives."""
    assert hist.overlap is not None
    occupied = (hist.negatives + hist.positives) > 0
    fp, pro = _from_top(hist.negatives[occupied]), _from_top(hist.overlap[occupied])
    if float(fp[-1]) == 0 or float(hist.positives.sum()) == 0:
        return math.nan
    fpr, pro = _prepend_zero(fp / fp[-1]), _prepend_zero(pro)
    inside = int(torch.searchsorted(fpr, torch.tensor([fpr_limit], dtype=fpr.dtype), right=True))
    x, y = fpr[:inside], pro[:inside]
    if inside < len(fpr) and x[-1] < fpr_limit:
        step = (fpr_limit - x[-1]) / (fpr[inside] - x[-1])
        x = torch.cat([x, x.new_tensor([fpr_limit])])
        y = torch.cat([y, (y[-1] + step * (pro[inside] - y[-1])).reshape(1)])
    return float(torch.trapezoid(y, x)) / fpr_limit


def aupro_cflow(hist: Histogram, fpr_limit: float = 0.3) -> float:
    """The AUPRO of cflow-ad as CLIP anomaly papers report it (DictAS, APRIL-GAN, AnomalyCLIP), from a histogram
    over ``cflow_bin_index``: PRO and FPR at each of the 200 thresholds, the points with FPR below the limit, their
    FPRs min-max rescaled to [0, 1] (not divided by the limit), then the trapezoidal area."""
    assert hist.overlap is not None
    negatives, positives = float(hist.negatives.sum()), float(hist.positives.sum())
    if negatives == 0 or positives == 0:
        return math.nan
    # A pixel in bin i exceeds thresholds 0 .. i-1: at threshold j count the bins above j.
    fpr = (_from_top(hist.negatives).flip(0)[1:] / negatives)
    pro = _from_top(hist.overlap).flip(0)[1:]
    kept = fpr < fpr_limit
    fpr, pro = fpr[kept], pro[kept]
    if len(fpr) < 2 or float(fpr.max()) == float(fpr.min()):
        return math.nan
    fpr = (fpr - fpr.min()) / (fpr.max() - fpr.min())
    return abs(float(torch.trapezoid(pro, fpr)))

"""Threshold-curve metrics (AUROC, AP, F1-max, AUPRO) from per-score histograms: one pass over the pixels.

Every curve metric only needs, for each candidate threshold, how many negatives and positives score there and how
much PRO weight they carry. Histograms over the distinct scores (``bins=None``) give exactly what scikit-learn
computes; over ``bins`` equal-width bins between the minimum and maximum score they cost O(n) instead of a sort of
every pixel and differ only by ties inside a bin (about 1e-6 at 2**20 bins). The cflow-ad AUPRO is exact in
both cases: its 200 thresholds are resolved pixel by pixel where they fall inside a bin.
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
    """Per bin, in increasing score order: negatives, positives and PRO weight (float64 arrays).

    The PRO weight of a positive pixel is 1 / (area of its ground-truth region x number of regions), so that the
    weight above a threshold is the mean overlap of the regions (``None`` when no PRO is wanted).
    """

    negatives: np.ndarray
    positives: np.ndarray
    overlap: np.ndarray | None = None

    def __add__(self, other: Histogram) -> Histogram:
        overlap = None if self.overlap is None else self.overlap + other.overlap
        return Histogram(self.negatives + other.negatives, self.positives + other.positives, overlap)


@dataclass
class Binning:
    """A monotone bin for each score: its rank among the distinct ``values`` (exact), or ``floor((score - low) *
    scale)`` clamped to ``count - 1`` (equal-width bins)."""

    index: Tensor
    count: int
    values: Tensor | None = None
    low: float = 0.0
    scale: float = 0.0

    def bin_of(self, scores: Tensor) -> Tensor:
        """The bin the same rule gives other values (thresholds), for equal-width bins."""
        return (scores - self.low).mul_(self.scale).long().clamp_(0, self.count - 1)


def bin_scores(scores: Tensor, bins: int | None) -> Binning:
    """Exact bins (the distinct scores, one sort) or ``bins`` equal-width bins between the minimum and maximum."""
    if bins is None:
        values, inverse = torch.unique(scores, sorted=True, return_inverse=True)
        return Binning(inverse, len(values), values=values)
    low, high = (float(v) for v in torch.aminmax(scores))
    scale = bins / (high - low) if high > low else 0.0
    binning = Binning(torch.empty(0, dtype=torch.long), bins, low=low, scale=scale)
    binning.index = binning.bin_of(scores)
    return binning


def histogram(index: Tensor, count: int, positive: Tensor, overlap_weight: Tensor | None = None) -> Histogram:
    """Bin counts of negatives and positives (``positive`` is a bool mask over ``index``) and, given the PRO weights
    of the positive pixels (in their order), the PRO weight per bin."""
    total = torch.bincount(index, minlength=count).double().numpy()
    positive_index = index[positive]
    positives = torch.bincount(positive_index, minlength=count).double().numpy()
    overlap = None
    if overlap_weight is not None:
        overlap = torch.bincount(positive_index, weights=overlap_weight.double(), minlength=count).numpy()
    return Histogram(total - positives, positives, overlap)


def cflow_histogram(
    binning: Binning, hist: Histogram, scores: Tensor, positive: Tensor, overlap_weight: Tensor
) -> Histogram | None:
    """The histogram over the cflow-ad thresholds ``np.arange(min, max, (max - min) / 200)``: bin i holds the
    pixels above exactly i thresholds (a pixel counts as anomalous at a threshold it exceeds). ``None`` when all
    scores are equal (the reference code fails there).

    Built from the fine histogram: a fine bin that holds no threshold lies wholly above the same thresholds; only
    the pixels of the (at most 200) bins that hold one are compared with the thresholds one by one.
    """
    low, high = (np.float32(v) for v in torch.aminmax(scores))
    if high <= low:
        return None
    thresholds = torch.from_numpy(np.arange(low, high, (high - low) / np.float32(CFLOW_STEPS))).to(scores.dtype)
    count = len(thresholds) + 1
    if binning.values is not None:  # exact bins: each bin is one score, compared directly
        above, split = torch.bucketize(binning.values, thresholds), torch.zeros(binning.count, dtype=torch.bool)
    else:
        threshold_bins = binning.bin_of(thresholds)
        above = torch.searchsorted(threshold_bins, torch.arange(binning.count), right=False)
        split = torch.zeros(binning.count, dtype=torch.bool)
        split[threshold_bins] = True
    whole = ~split.numpy()
    mapped = above.numpy()[whole]
    assert hist.overlap is not None, "the cflow thresholds are for PRO: hist must carry overlap weights"
    result = Histogram(
        np.bincount(mapped, hist.negatives[whole], count),
        np.bincount(mapped, hist.positives[whole], count),
        np.bincount(mapped, hist.overlap[whole], count),
    )
    if not split.any():
        return result
    in_split = split[binning.index]
    positive_in_split = in_split[positive]
    parts = histogram(
        torch.bucketize(scores[in_split], thresholds), count, positive[in_split], overlap_weight[positive_in_split]
    )
    return result + parts


def _from_top(values: np.ndarray) -> np.ndarray:
    """Cumulative sums from the highest bin down: what lies at or above each threshold."""
    return np.cumsum(values[::-1])


def _prepend_zero(values: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], values])


def binary_metrics(hist: Histogram) -> dict[str, float]:
    """AUROC (trapezoidal ROC), AP (step-wise, as sklearn's ``average_precision_score``) and F1-max (best F1 over
    all thresholds); NaN when one class is missing."""
    occupied = (hist.negatives + hist.positives) > 0
    fp, tp = _from_top(hist.negatives[occupied]), _from_top(hist.positives[occupied])
    if fp[-1] == 0 or tp[-1] == 0:
        return {"auroc": math.nan, "ap": math.nan, "f1_max": math.nan}
    recall, fpr = tp / tp[-1], fp / fp[-1]
    precision = tp / (tp + fp)
    with np.errstate(invalid="ignore"):
        f1 = np.where(tp > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {
        "auroc": float(np.trapezoid(_prepend_zero(recall), _prepend_zero(fpr))),
        "ap": float(np.sum(np.diff(_prepend_zero(recall)) * precision)),
        "f1_max": float(f1.max()),
    }


def aupro_exact(hist: Histogram, fpr_limit: float = 0.3) -> float:
    """Area under the exact PRO-vs-FPR curve up to ``fpr_limit`` (the last point interpolated at the limit),
    divided by ``fpr_limit``; in [0, 1]. NaN without regions or without negatives."""
    assert hist.overlap is not None
    occupied = (hist.negatives + hist.positives) > 0
    fp, pro = _from_top(hist.negatives[occupied]), _from_top(hist.overlap[occupied])
    if fp[-1] == 0 or hist.positives.sum() == 0:
        return math.nan
    fpr, pro = _prepend_zero(fp / fp[-1]), _prepend_zero(pro)
    inside = int(np.searchsorted(fpr, fpr_limit, side="right"))
    x, y = fpr[:inside], pro[:inside]
    if inside < len(fpr) and x[-1] < fpr_limit:
        x, y = (
            np.append(x, fpr_limit),
            np.append(y, np.interp(fpr_limit, fpr[inside - 1 : inside + 1], pro[inside - 1 : inside + 1])),
        )
    return float(np.trapezoid(y, x)) / fpr_limit


def aupro_cflow(hist: Histogram, fpr_limit: float = 0.3) -> float:
    """The AUPRO of cflow-ad as CLIP anomaly papers report it (DictAS, APRIL-GAN, AnomalyCLIP), from
    ``cflow_histogram``: PRO and FPR at each of the 200 thresholds, the points with FPR below the limit, their FPRs
    min-max rescaled to [0, 1] (not divided by the limit), then the trapezoidal area."""
    assert hist.overlap is not None
    negatives, positives = hist.negatives.sum(), hist.positives.sum()
    if negatives == 0 or positives == 0:
        return math.nan
    # A pixel in bin i exceeds thresholds 0 .. i-1: at threshold j count the bins above j.
    fpr = _from_top(hist.negatives)[::-1][1:] / negatives
    pro = _from_top(hist.overlap)[::-1][1:]
    kept = fpr < fpr_limit
    fpr, pro = fpr[kept], pro[kept]
    if len(fpr) < 2 or fpr.max() == fpr.min():
        return math.nan
    fpr = (fpr - fpr.min()) / (fpr.max() - fpr.min())
    return abs(float(np.trapezoid(pro, fpr)))

"""A decision threshold chosen without anomalous examples: from the scores of held-out normal images."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from gad.errors import ConfigError


@dataclass(frozen=True)
class Threshold:
    """``score > value`` means anomalous. ``fpr`` and ``normals`` say how it was chosen (``None``/0: given by hand);
    ``normals`` counts the normal values it was chosen from: images, or pixels for a pixel threshold."""

    value: float
    fpr: float | None = None
    normals: int = 0

    def as_dict(self) -> dict:
        return asdict(self) | {"too_few_normals": self.too_few_normals}

    @property
    def needed(self) -> int:
        """Held-out normals needed for ``fpr`` to flag at least one of them (0: given by hand)."""
        return math.ceil(1 / self.fpr - 1e-9) if self.fpr else 0

    @property
    def too_few_normals(self) -> bool:
        """Too few normals for the asked rate: the threshold is simply their highest score."""
        return self.normals < self.needed


@dataclass(frozen=True)
class Thresholds:
    """The decision of one category: ``image`` on image scores, ``pixel`` on anomaly-map values (the predicted
    mask; ``None`` without maps); ``note``: why either is missing or weak."""

    image: Threshold | None
    pixel: Threshold | None = None
    note: str = ""

    def as_dict(self) -> dict:
        return {
            "image": self.image.as_dict() if self.image else None,
            "pixel": self.pixel.as_dict() if self.pixel else None,
            "note": self.note,
        }


def too_few_normals_message(threshold: Threshold) -> str:
    """What a threshold at the normals' maximum means, and how many normals the rate needs."""
    n = threshold.normals
    return (
        f"{n} held-out normal images are too few for a false-positive rate of {threshold.fpr:g}: none of them may "
        f"be flagged, so the threshold is their highest score ({threshold.value:.6g}), and new normal images score above it about "
        f"1 in {n + 1} times ({1 / (n + 1):.0%}) whatever the rate asked. Use at least {threshold.needed} normal "
        "images for this rate."
    )


def check_fpr(fpr: float, what: str = "fpr") -> None:
    """A false-positive rate must lie in [0, 1) (0: no calibration normal above the threshold); checked before
    any image is scored."""
    if not (isinstance(fpr, (int, float)) and math.isfinite(fpr) and 0 <= fpr < 1):
        raise ConfigError(f"{what} must be a share of normal images in [0, 1) (e.g. 0.01 for 1 %), got {fpr}.")


def threshold_at_fpr(normal_scores: Sequence[float] | np.ndarray, fpr: float, warn: bool = True) -> Threshold:
    """The smallest observed normal score such that at most ``fpr`` of the normals score above it.

    With n normals, at most floor(fpr * n) of them are flagged; with fewer than 1 / fpr normals that is none, and
    the threshold is their maximum, and a new normal image scores above it with probability about 1 / (n + 1)
    whatever ``fpr`` asked: this warns. The normals must not be the references themselves: a reference
    matches itself and scores unrealistically low. ``warn=False``: the caller reports ``too_few_normals`` itself.
    """
    check_fpr(fpr)
    scores = np.sort(np.asarray(normal_scores, dtype=np.float64).ravel())
    if scores.size == 0:
        raise ConfigError("Choosing a threshold needs at least one held-out normal image.")
    allowed = int(np.floor(fpr * scores.size + 1e-9))
    threshold = Threshold(value=float(scores[scores.size - 1 - allowed]), fpr=fpr, normals=int(scores.size))
    if warn and threshold.too_few_normals:
        warnings.warn(too_few_normals_message(threshold), stacklevel=2)
    return threshold


def confusion_at_threshold(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, value: float
) -> dict:
    """Counts at ``score > value`` against known labels (1 = anomalous), with precision and recall (``None`` when
    nothing is flagged, or no image is anomalous)."""
    flagged = np.asarray(scores, dtype=np.float64) > value
    anomalous = np.asarray(labels) > 0
    tp, fp = int((flagged & anomalous).sum()), int((flagged & ~anomalous).sum())
    fn, tn = int((~flagged & anomalous).sum()), int((~flagged & ~anomalous).sum())
    return {
        "threshold": value,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "false_positive_rate": fp / (fp + tn) if fp + tn else None,
        "confusion": {"true_positive": tp, "false_positive": fp, "false_negative": fn, "true_negative": tn},
    }

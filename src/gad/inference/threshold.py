"""A decision threshold chosen without anomalous examples: from the scores of held-out normal images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import math
import warnings

import numpy as np

from gad.errors import ConfigError


@dataclass(frozen=True)
class Threshold:
    """``score > value`` means anomalous. ``fpr`` and ``normals`` say how it was chosen (``None``/0: given by hand)."""

    value: float
    fpr: float | None = None
    normals: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def check_fpr(fpr: float, what: str = "fpr") -> None:
    """A false-positive rate must lie in [0, 1) (0: no calibration normal above the threshold); checked before
    any image is scored."""
    if not (isinstance(fpr, (int, float)) and math.isfinite(fpr) and 0 <= fpr < 1):
        raise ConfigError(f"{what} must be a share of normal images in [0, 1) (e.g. 0.01 for 1 %), got {fpr}.")


def threshold_at_fpr(normal_scores: Sequence[float] | np.ndarray, fpr: float) -> Threshold:
    """The smallest observed normal score such that at most ``fpr`` of the normals score above it.

    With n normals, at most floor(fpr * n) of them are flagged; with fewer than 1 / fpr normals that is none, and
    the threshold is their maximum, and a new normal image scores above it with probability about 1 / (n + 1)
    whatever ``fpr`` asked: this warns. The normals must not be the references themselves: a reference
    matches itself and scores unrealistically low.
    """
    check_fpr(fpr)
    scores = np.sort(np.asarray(normal_scores, dtype=np.float64).ravel())
    if scores.size == 0:
        raise ConfigError("Choosing a threshold needs at least one held-out normal image.")
    allowed = int(np.floor(fpr * scores.size + 1e-9))
    if allowed == 0 and fpr > 0:
        warnings.warn(
            f"{scores.size} held-out normal images are too few for a false-positive rate of {fpr:g}: none of them "
            f"may be flagged, so the threshold is their highest score, and new normal images score above it about "
            f"1 in {scores.size + 1} times ({1 / (scores.size + 1):.0%}). Calibrate on at least "
            f"{math.ceil(1 / fpr)} normal images for this rate.",
            stacklevel=2,
        )
    return Threshold(value=float(scores[scores.size - 1 - allowed]), fpr=fpr, normals=int(scores.size))

"""A decision threshold chosen without anomalous examples: from the scores of held-out normal images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

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


def threshold_at_fpr(normal_scores: Sequence[float] | np.ndarray, fpr: float) -> Threshold:
    """The smallest observed normal score such that at most ``fpr`` of the normals score above it.

    With n normals, at most floor(fpr * n) of them are flagged; with fewer than 1 / fpr normals that is none, and
    the threshold is their maximum (more normals give a threshold closer to the asked rate). The normals must not
    be the references themselves: a reference matches itself and scores unrealistically low.
    """
    scores = np.sort(np.asarray(normal_scores, dtype=np.float64).ravel())
    if not 0 <= fpr < 1:
        raise ConfigError(f"fpr must be in [0, 1), got {fpr}")
    if scores.size == 0:
        raise ConfigError("Choosing a threshold needs at least one held-out normal image.")
    allowed = int(np.floor(fpr * scores.size + 1e-9))
    return Threshold(value=float(scores[scores.size - 1 - allowed]), fpr=fpr, normals=int(scores.size))

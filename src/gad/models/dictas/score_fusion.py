"""The official image score: text and map scores min-max normalised per category over the whole test set, fused.

This normalises with statistics of the test set itself (a score depends on the other test images), so it is
an explicit option for reproducing the paper's image-level numbers, off by default.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from gad.metrics.anomaly_metrics import ScoreTransform

EPS = 1e-6
Parts = tuple[Tensor, Tensor, Tensor, Tensor]


class ScoreParts(Metric):
    """Each test image's category index, map score, text score and fusion weight alpha; synced across processes."""

    full_state_update = False
    # torchmetrics states (``add_state`` below): lists of per-batch tensors, concatenated by a distributed sync.
    category: list[Tensor]
    map: list[Tensor]
    text: list[Tensor]
    alpha: list[Tensor]

    def __init__(self) -> None:
        super().__init__(compute_on_cpu=True)
        for name in ("category", "map", "text", "alpha"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, category: Tensor, map_score: Tensor, text_score: Tensor, alpha: Tensor) -> None:
        self.category.append(category.long())
        self.map.append(map_score.float())
        self.text.append(text_score.float())
        self.alpha.append(alpha.float())

    def compute(self) -> Parts:
        """(category, map, text, alpha) of every image of every process (torchmetrics syncs around ``compute``)."""
        return self.states()

    def states(self) -> Parts:
        """(category, map, text, alpha) of the states as they are: outside ``compute``, this process's images."""
        return _cat(self.category), _cat(self.map), _cat(self.text), _cat(self.alpha)


def fuse_normalised(images: Parts, reference: Parts) -> Tensor:
    """alpha * norm(text) + (1 - alpha) * norm(map) for each of ``images``, with norm(x) = (x - min) / (max - min
    + 1e-6) per category, the min and max taken over ``reference`` (the whole test set, all processes)."""
    category, map_score, text_score, alpha = images
    ref_category, ref_map, ref_text, _ = reference
    text = _normalise(text_score, category, ref_text, ref_category)
    mapped = _normalise(map_score, category, ref_map, ref_category)
    return alpha * text + (1 - alpha) * mapped


def official_scores(parts: Parts) -> ScoreTransform:
    """The metrics' score transform (``AnomalyMetrics.transform_scores``) that replaces the gathered image scores
    by the fused ones of ``parts`` (``ScoreParts.compute()``: gathered in the same order, so image for image)."""
    fused = fuse_normalised(parts, parts)

    def transform(scores: Tensor) -> Tensor:
        if len(scores) != len(fused):
            raise RuntimeError(f"{len(scores)} image scores but {len(fused)} score parts: not the same images")
        return fused

    return transform


def _normalise(values: Tensor, category: Tensor, ref_values: Tensor, ref_category: Tensor) -> Tensor:
    count = max(int(category.max()), int(ref_category.max())) + 1
    low = ref_values.new_full((count,), float("inf")).scatter_reduce(0, ref_category, ref_values, "amin")
    high = ref_values.new_full((count,), float("-inf")).scatter_reduce(0, ref_category, ref_values, "amax")
    low, high = low.to(values)[category], high.to(values)[category]
    return (values - low) / (high - low + EPS)


def _cat(states: list[Tensor] | Tensor) -> Tensor:
    return torch.cat(states) if isinstance(states, list) else states

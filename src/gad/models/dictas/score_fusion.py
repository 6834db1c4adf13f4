"""The official image score: text and map scores min-max normalised per category over the whole test set, fused.

This normalises with statistics of the test set itself (a score depends on the other test images), so it is
an explicit option for reproducing the paper's image-level numbers, off by default.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

EPS = 1e-6


class ScoreParts(Metric):
    """Collects each test image's category index, map score and text score; synchronised across DDP processes."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__(compute_on_cpu=True)
        for name in ("category", "map", "text"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, category: Tensor, map_score: Tensor, text_score: Tensor) -> None:
        self.category.append(category.long())
        self.map.append(map_score.float())
        self.text.append(text_score.float())

    def compute(self) -> tuple[Tensor, Tensor, Tensor]:
        """(category, map, text) of every image of every process."""
        return tuple(_cat(s) for s in (self.category, self.map, self.text))  # type: ignore[return-value]

    def local(self) -> tuple[Tensor, Tensor, Tensor]:
        """(category, map, text) of this process's images, in update order."""
        return tuple(_cat(s) for s in (self.category, self.map, self.text))  # type: ignore[return-value]


def fuse_normalised(
    category: Tensor, map_score: Tensor, text_score: Tensor, alpha: Tensor, reference: tuple[Tensor, Tensor, Tensor]
) -> Tensor:
    """alpha * norm(text) + (1 - alpha) * norm(map), per category, norm(x) = (x - min) / (max - min + 1e-6).

    ``category`` indexes ``alpha`` (one weight per category); the min and max of each category are taken over
    ``reference`` = (category, map, text) of the whole test set, which may hold more images than those fused.
    """
    ref_category, ref_map, ref_text = reference
    fused_text = _normalise(text_score, category, ref_text, ref_category, len(alpha))
    fused_map = _normalise(map_score, category, ref_map, ref_category, len(alpha))
    weight = alpha.to(map_score)[category]
    return weight * fused_text + (1 - weight) * fused_map


def _normalise(values: Tensor, category: Tensor, ref_values: Tensor, ref_category: Tensor, count: int) -> Tensor:
    low = torch.full((count,), torch.inf).scatter_reduce(0, ref_category, ref_values, "amin")
    high = torch.full((count,), -torch.inf).scatter_reduce(0, ref_category, ref_values, "amax")
    low, high = low.to(values)[category], high.to(values)[category]
    return (values - low) / (high - low + EPS)


def _cat(states: list[Tensor] | Tensor) -> Tensor:
    return torch.cat(states) if isinstance(states, list) else states

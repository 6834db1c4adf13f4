"""Sparsemax (Martins & Astudillo, 2016): the Euclidean projection of scores onto the probability simplex.

Two ways to compute it: ``sparsemax`` sorts every row fully (exact, differentiable, the reference), and
``sparsemax_topk`` only looks at each row's k largest scores, which is enough whenever the support is smaller
than k and costs a partial selection instead of a sort of all K x N dictionary entries.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sparsemax(scores: Tensor, dim: int = -1) -> Tensor:
    """Sparse probabilities along ``dim``: non-negative, summing to 1, exactly zero for low scores.

    Sort-based: with z sorted in decreasing order, the support size is k = max{j : 1 + j z_j > sum_{i<=j} z_i},
    the threshold tau = (sum_{i<=k} z_i - 1) / k, and the output max(0, z - tau). Autograd differentiates through
    the sort and the gather, which gives the sparsemax Jacobian (the support is piecewise constant).
    """
    z = scores.movedim(dim, -1)
    z = z - z.amax(dim=-1, keepdim=True).detach()
    tau, _ = _threshold(torch.sort(z, dim=-1, descending=True).values)
    return torch.clamp(z - tau, min=0).movedim(-1, dim)


def sparsemax_topk(scores: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """Sparsemax of the last dim from each row's ``k`` largest scores only: (weights, indices, exact).

    weights and indices are (..., k): the non-zero probabilities sit at ``indices`` (the rest of the row is 0).
    ``exact`` (...,) is True where the support is smaller than k: the support condition holds for a prefix of
    the sorted row only, so once it fails inside the top k no later entry can join, and the result equals
    ``sparsemax`` there. Rows with ``exact`` False need the full computation.
    """
    top, indices = torch.topk(scores, min(k, scores.shape[-1]), dim=-1, sorted=True)
    top = top - top[..., :1].detach()
    tau, support = _threshold(top)
    exact = (support < top.shape[-1]).squeeze(-1) | (top.shape[-1] == scores.shape[-1])
    return torch.clamp(top - tau, min=0), indices, exact


def _threshold(ordered: Tensor) -> tuple[Tensor, Tensor]:
    """tau and the support size (each (..., 1)) of rows sorted in decreasing order."""
    cumulative = ordered.cumsum(dim=-1)
    ranks = torch.arange(1, ordered.shape[-1] + 1, device=ordered.device, dtype=ordered.dtype)
    support = (1 + ranks * ordered > cumulative).sum(dim=-1, keepdim=True)
    return (cumulative.gather(-1, support - 1) - 1) / support.to(ordered.dtype), support

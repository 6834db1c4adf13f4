"""Sparsemax (Martins & Astudillo, 2016): the Euclidean projection of scores onto the probability simplex."""

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
    ordered = torch.sort(z, dim=-1, descending=True).values
    cumulative = ordered.cumsum(dim=-1)
    ranks = torch.arange(1, z.shape[-1] + 1, device=z.device, dtype=z.dtype)
    support = (1 + ranks * ordered > cumulative).sum(dim=-1, keepdim=True)
    tau = (cumulative.gather(-1, support - 1) - 1) / support.to(z.dtype)
    return torch.clamp(z - tau, min=0).movedim(-1, dim)

"""WinCLIP's sliding windows on the patch grid, and the harmonic aggregation of window scores back onto patches."""

from __future__ import annotations

import torch
from torch import Tensor

from gad.errors import ConfigError


def window_masks(grid: tuple[int, int], size: int, stride: int = 1) -> Tensor:
    """(W, size * size) row-major patch indices of every ``size`` x ``size`` window of the grid.

    Windows start every ``stride`` patches; when the stride does not reach the last row or column, one more row or
    column of windows is placed flush with the edge. A stride of at most the window size then covers every patch.
    """
    height, width = grid
    if not 1 <= size <= min(height, width) or not 1 <= stride <= size:
        raise ConfigError(
            f"WinCLIP: window size {size} with stride {stride} does not cover the {height}x{width} patch grid: "
            f"give sizes between 1 and {min(height, width)} and a stride between 1 and the window size."
        )
    rows, columns = _starts(height, size, stride), _starts(width, size, stride)
    offsets = (torch.arange(size)[:, None] * width + torch.arange(size)[None, :]).flatten()  # one window at (0, 0)
    corners = (rows[:, None] * width + columns[None, :]).flatten()
    return corners[:, None] + offsets[None, :]


def _starts(length: int, size: int, stride: int) -> Tensor:
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)
    return torch.tensor(starts)


def harmonic_mean(values: Tensor, dim: int) -> Tensor:
    """Harmonic mean along ``dim``; a zero anywhere gives zero (1/0 = inf), never NaN."""
    return values.shape[dim] / values.reciprocal().sum(dim=dim)


def harmonic_aggregation(window_scores: Tensor, masks: Tensor, patches: int) -> Tensor:
    """(B, N) patch scores: for each patch, the harmonic mean of the scores of the windows that cover it.

    Args:
        window_scores: (B, W) one score per window, in the order of ``masks``.
        masks: (W, n) patch indices of each window (``window_masks``).
        patches: N, the number of patches of the grid; each must be covered by at least one window.

    A sum of reciprocals per patch (scattered with ``index_add``, no dense W x N matrix), then count / sum: the
    harmonic mean keeps a patch's score low unless every window around it is anomalous, which sharpens the map.
    """
    reciprocals = window_scores.reciprocal().repeat_interleave(masks.shape[1], dim=1)  # (B, W * n), as masks.flatten()
    index = masks.flatten().to(window_scores.device)
    sums = window_scores.new_zeros(window_scores.shape[0], patches).index_add_(1, index, reciprocals)
    counts = torch.bincount(index, minlength=patches).to(window_scores.dtype)
    return counts / sums

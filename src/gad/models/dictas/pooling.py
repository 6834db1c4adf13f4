"""Neighbourhood aggregation of patch tokens on their grid, before lookup (queries and references alike)."""

from __future__ import annotations

from torch import Tensor, nn

from gad.errors import ConfigError


def pool_tokens(tokens: Tensor, grid: tuple[int, int], kernel: int) -> Tensor:
    """Average each (B, h*w, C) token with its kernel x kernel neighbours; kernel 1 returns the tokens unchanged.

    As the official code: zero padding of (kernel - 1) // 2 before and kernel // 2 after on each axis, then a
    stride-1 average, so border averages include the zeros (a border token of a constant map shrinks).
    """
    if kernel == 1:
        return tokens
    if kernel < 1:
        raise ConfigError(f"pooling kernel must be >= 1, got {kernel}")
    x = tokens.transpose(1, 2).unflatten(2, grid)
    before, after = (kernel - 1) // 2, kernel // 2
    x = nn.functional.pad(x, (before, after, before, after))
    return nn.functional.avg_pool2d(x, kernel, stride=1).flatten(2).transpose(1, 2)

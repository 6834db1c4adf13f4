"""InCTRL's learnable parts: the adapter psi and the two MLP scorers (eta on the image residual, phi holistic)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class Adapter(nn.Module):
    """psi: bias-free bottleneck with a ReLU after both layers and no skip connection (as the official code)."""

    def __init__(self, dim: int, reduction: int = 4) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(dim, dim // reduction, bias=False),
            nn.ReLU(),
            nn.Linear(dim // reduction, dim, bias=False),
            nn.ReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class ScoreHead(nn.Module):
    """(Linear -> ReLU -> BatchNorm) per hidden width, then Linear -> sigmoid: a probability per row.

    BatchNorm uses the batch's statistics only when the caller asks (``batch_statistics=True``, the training
    loss, as the official code trains); every score meant to be read uses the running statistics whatever the
    module's train/eval mode, so it never depends on the other samples of the batch.
    """

    def __init__(self, in_features: int, hidden: Sequence[int] = (128, 64)) -> None:
        super().__init__()
        widths = [in_features, *hidden]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(width) for width in hidden)
        self.out = nn.Linear(widths[-1], 1)

    def forward(self, x: Tensor, batch_statistics: bool = False) -> Tensor:
        """(B, in_features) to (B,) probabilities."""
        for linear, module in zip(self.linears, self.norms):
            norm = cast(nn.BatchNorm1d, module)  # ModuleList items are typed as plain Modules
            x = F.relu(linear(x))
            x = F.batch_norm(
                x,
                norm.running_mean,
                norm.running_var,
                norm.weight,
                norm.bias,
                training=batch_statistics,
                momentum=cast(float, norm.momentum),  # BatchNorm1d(width) keeps its default 0.1, never None
                eps=norm.eps,
            )
        return torch.sigmoid(self.out(x)).squeeze(-1)

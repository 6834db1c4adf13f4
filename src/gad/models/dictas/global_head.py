"""Attention-pooling global head (the official ``Fuse_Feature``): per-layer tokens to one image embedding."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class GlobalHead(nn.Module):
    """Concatenate L layers' tokens along channels, project, attention-pool over tokens, project to the text space.

    Used only by the text alignment constraint, so that query tokens and retrieved tokens can be compared with
    the CLIP text embeddings. The official head is built for exactly 4 layers; here ``num_layers`` is free.

    Args:
        dim: token channels per layer.
        num_layers: how many layers are concatenated.
        embed_dim: output size, the CLIP joint embedding.
    """

    def __init__(self, dim: int, num_layers: int, embed_dim: int) -> None:
        super().__init__()
        hidden = dim // 2
        self.project = nn.Linear(dim * num_layers, hidden)
        self.attention = nn.Linear(hidden, 1)
        self.output = nn.Linear(hidden, embed_dim)

    def forward(self, tokens: list[Tensor]) -> Tensor:
        """One (B, N, C) tensor per layer to a (B, embed_dim) vector (not normalised)."""
        h = self.project(torch.cat(tokens, dim=-1))
        weights = self.attention(h).softmax(dim=1)
        return self.output((weights * h).sum(dim=1))

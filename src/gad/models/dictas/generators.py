"""The Query, Key and Value generators, shared by every tapped layer and pooling scale."""

from __future__ import annotations

from torch import Tensor, nn

from gad.models.dictas.attention import AttentionBlock


class ResidualGenerator(nn.Module):
    """x + block(x): the Value generator, whose output must stay close to the reference content it indexes."""

    def __init__(self, block: AttentionBlock) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class DictionaryGenerators(nn.Module):
    """g_Q (queries), g_K (dictionary keys) and g_V (dictionary values, residual).

    g_K and g_V run on all references of a dictionary as one sequence, so their attention spans all K shots.

    Args:
        dim: token channels (the CLIP width).
        num_heads: attention heads of each block.
        dropout: dropout inside each block.
    """

    def __init__(self, dim: int, num_heads: int = 4, dropout: float = 0.1) -> None:
        super().__init__()
        self.query = AttentionBlock(dim, num_heads, dropout)
        self.key = AttentionBlock(dim, num_heads, dropout)
        self.value = ResidualGenerator(AttentionBlock(dim, num_heads, dropout))

    def dictionary(self, references: Tensor) -> tuple[Tensor, Tensor]:
        """(B, M, C) reference tokens (all shots concatenated) to (keys, values), each (B, M, C)."""
        return self.key(references), self.value(references)


def init_weights(module: nn.Module) -> None:
    """The official initialisation: linear weights N(0, 0.02) with zero bias, LayerNorm identity."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

"""DictAS's attention block: the building unit of the Query, Key and Value generators (spec A.3)."""

from __future__ import annotations

from torch import Tensor, nn

from gad.errors import ConfigError


class AttentionBlock(nn.Module):
    """Pre-norm multi-head self-attention followed by an activation-free "MLP", as in the official code.

    u = LN(x); a = SDPA(u Wq, u Wk, u Wv) (no output projection); h = Dropout(Linear(a)) + u;
    out = Linear_nobias(LN(Linear(h))). There is no outer residual and no nonlinearity besides the softmax and
    the LayerNorms; both are deliberate so the block stays close to a learnable linear re-mapping of the tokens.
    Attention is computed with ``scaled_dot_product_attention`` so large dictionaries (many shots) fit in memory.

    Args:
        dim: token channels (the CLIP width).
        num_heads: attention heads; ``dim`` must be divisible by it.
        dropout: dropout after the first linear layer.
    """

    def __init__(self, dim: int, num_heads: int = 4, dropout: float = 0.1) -> None:
        super().__init__()
        if dim % num_heads:
            raise ConfigError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.norm1 = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.fc1 = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.fc3 = nn.Linear(dim, dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """(B, L, C) tokens to (B, L, C): attention spans the whole sequence L."""
        return self.fc3(self.hidden(x))

    def hidden(self, x: Tensor) -> Tensor:
        """The block without its bias-free output map ``fc3``: a caller that only takes dot products of the
        output with fixed vectors w can fold ``fc3`` into them (out . w = hidden . (w @ fc3.weight))."""
        u = self.norm1(x)
        q, k, v = (self._heads(proj(u)) for proj in (self.q, self.k, self.v))
        a = nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2)
        h = self.dropout(self.fc1(a)) + u
        return self.norm2(self.fc2(h))

    def fold_output(self, vectors: Tensor) -> Tensor:
        """(..., C) vectors w to w @ fc3.weight in float32: ``hidden(x) . fold_output(w)`` equals ``forward(x) . w``."""
        return vectors.float() @ self.fc3.weight.float()

    def _heads(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

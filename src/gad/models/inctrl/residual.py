"""InCTRL's multi-layer patch-level residual (paper Eq. 1-2): every query patch against all patches of all K prompts.

One batched matrix product per call instead of the official per-sample, per-layer, per-patch loop; the loop
version is kept as the reference the tests and ``benchmarks/inctrl_residual.py`` compare against.
"""

from __future__ import annotations

import torch
from torch import Tensor


def patch_residual(query: Tensor, prompts: Tensor) -> Tensor:
    """(B, N) residual map: per layer, for each query patch the smallest cosine distance ``(1 - cos) / 2`` to any
    prompt patch, then the mean over layers.

    Args:
        query: (B, L, N, C) L2-normalised patch tokens of the queries (L tapped layers, N patches).
        prompts: (B, L, M, C) per-query prompt tokens or (1, L, M, C) shared ones (M = K * N), L2-normalised.

    The distance is halved as in the official code, so residuals lie in [0, 1]. Computed in float32 whatever the
    autocast setting: a bf16 similarity would blur the small distances the minimum is taken over.
    """
    with torch.autocast(query.device.type, enabled=False):
        similarity = query.float() @ prompts.float().transpose(-1, -2)  # (B, L, N, M)
        return ((1.0 - similarity.amax(dim=-1)) / 2.0).mean(dim=1)


def patch_residual_loop(query: Tensor, prompts: Tensor) -> Tensor:
    """The same map with explicit loops over samples, layers and patches, like the official code; for tests and
    the speed benchmark only."""
    batch, layers, patches, _ = query.shape
    out = torch.zeros(batch, patches, dtype=torch.float32, device=query.device)
    for b in range(batch):
        bank = prompts[b if prompts.shape[0] > 1 else 0]
        for layer in range(layers):
            for n in range(patches):
                similarity = bank[layer].float() @ query[b, layer, n].float()
                out[b, n] += (1.0 - similarity.max()) / 2.0
    return out / layers

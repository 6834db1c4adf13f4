"""Window embeddings from CLIP's own image encoder: one transformer pass per window scale, not one per window.

A window's embedding is what CLIP's image tower makes of the class token and the window's patch tokens alone
(the paper's masking: tokens outside the window are dropped, each kept token keeps its own position embedding).
The patch embedding, class token, position embedding and ``ln_pre`` act per token, so they run once per image;
then, per scale, every window of every image is gathered into one batch of short sequences
(B * W sequences of 1 + s * s tokens) and run through the transformer, ``ln_post`` and the projection in one call.
Cost per scale: B * W * (1 + s^2) tokens through the blocks (15x15 grid: 196 x 5 tokens at s = 2, 169 x 10 at
s = 3, against 226 for the whole image), with attention over at most 10 tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn

from gad.errors import ConfigError
from gad.models.components.clip_backbone import ClipBackbone


def check_class_token_pooling(backbone: ClipBackbone) -> None:
    """Window embeddings read the class token: a tower that pools otherwise (mean, attention pooler) is refused."""
    visual = backbone.model.visual
    if getattr(visual, "attn_pool", None) is not None or getattr(visual, "pool_type", "tok") != "tok":
        raise ConfigError(
            f"WinCLIP needs a CLIP image tower that pools its class token; {backbone.model_name!r} pools otherwise."
        )


@torch.no_grad()
def window_embeddings(backbone: ClipBackbone, images: Tensor, masks: Sequence[Tensor]) -> list[Tensor]:
    """Per scale, the (B, W, D) L2-normalised embeddings of the windows given by ``masks`` ((W, n) patch indices,
    ``window_masks``) of images with values in [0, 1]."""
    visual: Any = backbone.model.visual
    mean, std = cast(Tensor, backbone.mean), cast(Tensor, backbone.std)
    x = (images - mean.to(images.dtype)) / std.to(images.dtype)
    tokens = visual._embeds(x)  # (B, 1 + N, width): class token first
    embeddings = []
    for mask in masks:
        mask = mask.to(tokens.device)
        index = torch.cat([mask.new_zeros(len(mask), 1), mask + 1], dim=1)  # (W, 1 + n): class token, then patches
        windows = tokens[:, index].flatten(0, 1)  # (B * W, 1 + n, width)
        pooled, _ = visual._pool(visual.transformer(windows))
        if visual.proj is not None:
            pooled = pooled @ visual.proj
        embeddings.append(nn.functional.normalize(pooled, dim=-1).unflatten(0, (len(images), len(mask))))
    return embeddings

"""Dictionary lookup: match queries against keys, mix the values with sparse, dense or one-hot weights."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from gad.errors import ConfigError
from gad.models.dictas.sparsemax import sparsemax

LookupStrategy = Literal["sparse", "dense", "maximum"]
LOOKUP_STRATEGIES: tuple[str, ...] = ("sparse", "dense", "maximum")


def lookup_weights(scores: Tensor, strategy: LookupStrategy) -> Tensor:
    """Weights over the dictionary entries (last dim) for each query.

    sparse: sparsemax, the paper's Sparse Probability Module (default); dense: softmax; maximum: one-hot on the
    best-matching key (no gradient flows to the scores).
    """
    if strategy == "sparse":
        return sparsemax(scores, dim=-1)
    if strategy == "dense":
        return scores.softmax(dim=-1)
    if strategy == "maximum":
        return torch.zeros_like(scores).scatter_(-1, scores.argmax(dim=-1, keepdim=True), 1.0)
    raise ConfigError(f"Unknown lookup strategy {strategy!r}; valid: {', '.join(LOOKUP_STRATEGIES)}")


def lookup(queries: Tensor, keys: Tensor, values: Tensor, strategy: LookupStrategy = "sparse") -> Tensor:
    """Retrieved content (B, N, C) for queries (B, N, C) from keys and values (B or 1, M, C).

    Scores are q.k / sqrt(C) with no normalisation or temperature, as in the official code. The matching runs in
    float32 outside autocast: sparsemax thresholds on sums of sorted scores, which bf16 rounds too coarsely.
    """
    with torch.autocast(device_type=queries.device.type, enabled=False):
        q, k, v = queries.float(), keys.float(), values.float()
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        return lookup_weights(scores, strategy) @ v


def cosine_distance(queries: Tensor, retrieved: Tensor) -> Tensor:
    """1 - cos per token, (B, N): 0 when a query is retrieved exactly, up to 2 when it points the other way."""
    return 1 - nn.functional.cosine_similarity(queries.float(), retrieved.float(), dim=-1)

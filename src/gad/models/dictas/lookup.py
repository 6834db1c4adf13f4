"""Dictionary lookup: match queries against keys, mix the values with sparse, dense or one-hot weights."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from gad.errors import ConfigError
from gad.models.dictas.sparsemax import sparsemax, sparsemax_topk

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


def lookup(
    queries: Tensor, keys: Tensor, values: Tensor, strategy: LookupStrategy = "sparse", topk: int | None = None
) -> Tensor:
    """Retrieved content (B, N, C) for queries (B, N, C) from keys and values (B or 1, M, C).

    Scores are q.k / sqrt(C) with no normalisation or temperature, as in the official code. The matching runs in
    float32 outside autocast: sparsemax thresholds on sums of sorted scores, which bf16 rounds too coarsely.
    ``topk`` (sparse only): find each query's support among its ``topk`` best keys and mix only those values
    (``sparse_lookup``); ``None`` sorts every row and mixes all M values (the exact reference path). An exported
    graph (ONNX) always takes the exact path: the top-k path's support width depends on the data.
    """
    with torch.autocast(device_type=queries.device.type, enabled=False):
        q, k, v = queries.float(), keys.float(), values.float()
        scores = (q / math.sqrt(q.shape[-1])) @ k.transpose(-1, -2)  # N x C, not N x M, divisions
        if strategy == "sparse" and topk is not None and not torch.compiler.is_exporting():
            return sparse_lookup(scores, v, topk)
        return lookup_weights(scores, strategy) @ v


def sparse_lookup(scores: Tensor, values: Tensor, topk: int) -> Tensor:
    """sparsemax(scores) @ values (B, N, C) from scores (B, N, M) and values (B or 1, M, C), reading only the
    ``topk`` best entries of each row; rows whose support is not smaller than ``topk`` are recomputed exactly.

    The mixing is an ``embedding_bag`` over the supports (at most N x topk x C instead of N x M x C
    multiply-adds). The support width and the exactness check cost one host synchronisation.
    """
    batch, queries, entries = scores.shape
    weights, indices, exact = sparsemax_topk(scores, topk)
    # Sorted rows: each support is a prefix, so only the widest support's columns carry weight. One host
    # synchronisation gives both that width and whether any row needs the exact fallback.
    widest, inexact = torch.stack([(weights > 0).sum(dim=-1).amax(), (~exact).sum()]).tolist()
    used = max(widest, 1)
    weights, indices = weights[..., :used], indices[..., :used]
    if values.shape[0] > 1:  # per-sample dictionaries: index the flattened (B * M, C) table
        indices = indices + entries * torch.arange(batch, device=indices.device).view(batch, 1, 1)
    retrieved = nn.functional.embedding_bag(
        indices.flatten(0, 1), values.flatten(0, 1), per_sample_weights=weights.flatten(0, 1), mode="sum"
    ).unflatten(0, (batch, queries))
    if inexact == 0:
        return retrieved
    fallback = retrieved.clone()
    for b in (~exact).any(dim=1).nonzero().flatten().tolist():
        rows = (~exact[b]).nonzero().flatten()
        fallback[b, rows] = sparsemax(scores[b, rows]) @ values[b if values.shape[0] > 1 else 0]
    return fallback


def cosine_distance(queries: Tensor, retrieved: Tensor) -> Tensor:
    """1 - cos per token, (B, N): 0 when a query is retrieved exactly, up to 2 when it points the other way."""
    return 1 - nn.functional.cosine_similarity(queries.float(), retrieved.float(), dim=-1)

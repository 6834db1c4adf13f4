"""Nearest-neighbour patch residuals: each query patch against every patch of the K references.

The simplest honest few-shot scorer on the shared CLIP features (the patch-level residual of InCTRL and the
few-shot memory bank of PatchCore-style methods without any training), and a baseline for benchmark tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gad.models.components.anomaly_map import upsample_and_smooth
from gad.models.components.clip_backbone import ClipBackbone
from gad.models.components.few_shot import NO_SETTINGS, AnomalyPrediction, FewShotModel


@dataclass
class PatchQueries:
    """A query batch's normalised patch tokens per tapped layer, its patch grid and input side in pixels."""

    tokens: list[Tensor]
    grid: tuple[int, int]
    image_size: int


class PatchResidualModel(FewShotModel):
    """Anomaly map = mean over tapped layers of (1 - max cosine similarity to any reference patch) / 2.

    Args:
        backbone: the frozen CLIP.
        sigma: Gaussian smoothing of the upsampled map, in pixels.
    """

    def __init__(self, backbone: ClipBackbone, sigma: float = 4.0) -> None:
        super().__init__()
        self.backbone = backbone
        self.sigma = sigma

    def encode_references(
        self, images: Tensor, category: str, settings: Mapping[str, Any] = NO_SETTINGS
    ) -> list[Tensor]:
        """Per layer, the (K * N, C) normalised patch tokens of all references as one memory."""
        tokens = self.backbone(images).patch_tokens
        return [nn.functional.normalize(t.flatten(0, 1), dim=-1) for t in tokens]

    def encode_queries(self, images: Tensor) -> PatchQueries:
        """Per layer, the (B, N, C) normalised patch tokens of a query batch (once, whatever the references)."""
        features = self.backbone(images)
        tokens = [nn.functional.normalize(t, dim=-1) for t in features.patch_tokens]
        return PatchQueries(tokens, features.grid, images.shape[-1])

    def score(self, queries: PatchQueries, references: list[Tensor], category: str) -> AnomalyPrediction:
        """Encoded queries against one reference memory."""
        residuals = []
        for query, memory in zip(queries.tokens, references):
            similarity = query @ memory.T  # (B, N, K*N)
            residuals.append((1.0 - similarity.amax(dim=-1)) / 2.0)
        patch_scores = torch.stack(residuals).mean(dim=0).unflatten(1, queries.grid)
        anomaly_map = upsample_and_smooth(patch_scores, queries.image_size, self.sigma)
        return AnomalyPrediction(score=anomaly_map.flatten(1).amax(dim=1), anomaly_map=anomaly_map)

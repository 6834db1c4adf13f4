"""InCTRL (Zhu & Pang, CVPR 2024) as a pure torch ``FewShotModel``: in-context residuals between a query and K
normal prompts, plus a text prior, scored by small heads on a frozen CLIP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gad.errors import ConfigError
from gad.models.components.anomaly_map import upsample_and_smooth
from gad.models.components.clip_backbone import ClipBackbone
from gad.models.components.few_shot import NO_SETTINGS, AnomalyPrediction, FewShotModel
from gad.models.components.text_prompts import TextPrompts
from gad.models.inctrl.heads import Adapter, ScoreHead
from gad.models.inctrl.residual import patch_residual

# CLIP's trained logit scale (exp of its learnt temperature, capped at 100), used by the official text score.
TEXT_LOGIT_SCALE = 100.0


@dataclass
class PromptFeatures:
    """What InCTRL keeps of K normal prompts (one category's references, or one training query's support).

    patch_tokens: (P, L, K * N, C) L2-normalised patch tokens of all prompts, P = 1 (shared) or B (per query).
    embeddings: (P, K, D) raw projected image embeddings (the adapter is applied at scoring time, so a cache
        stays valid while the adapter trains).
    text: (P, 2, D) normal and abnormal text prototypes.
    """

    patch_tokens: Tensor
    embeddings: Tensor
    text: Tensor


@dataclass
class QueryFeatures:
    """A query batch encoded once, whatever the number of prompt sets it is scored against: (B, L, N, C)
    normalised patch tokens, (B, D) raw image embeddings, and the input side in pixels."""

    tokens: Tensor
    embeddings: Tensor
    image_size: int


@dataclass
class InCTRLScores:
    """score: (B,) final score; image: s_i, the image-residual score (second loss term); text: s_a; holistic: phi;
    patch_max: s_p; residual_map: (B, N) patch residuals. All probabilities or residuals in [0, 1]."""

    score: Tensor
    image: Tensor
    text: Tensor
    holistic: Tensor
    patch_max: Tensor
    residual_map: Tensor


class InCTRLModel(FewShotModel):
    """Final score ``(phi(M + s_i + s_a) + w * max M) / (1 + w)`` (paper Eq. 8 with alpha = w, rescaled to [0, 1]).

    - M: multi-layer patch residual map (Eq. 1-2), vectorised over samples, layers and patches;
    - s_i = eta(psi(query) - mean_k psi(prompt_k)) (Eq. 3-5), psi the adapter on the raw image embedding;
    - s_a: softmax over 100 * cosine to the normal/abnormal text prototypes (Eq. 6), cached per category;
    - phi: MLP on the residual map with both scalars added to every entry (Eq. 7).

    Args:
        backbone: the frozen CLIP; its tapped layers give M (InCTRL: 7, 9, 11 of ViT-B-16-plus-240).
        adapter_reduction: bottleneck factor of psi (official 4).
        hidden: hidden widths of eta and phi (official 128, 64).
        patch_weight: w; 1 is the official equal weighting ``(phi + s_p) / 2``. Dividing by 1 + w keeps the score a
            probability for the focal loss without changing its ranking.
        sigma: Gaussian smoothing, in pixels, of the upsampled residual map exposed as the anomaly map.
        class_names: words used in the text prompts per category (default: the category, ``_`` as spaces).
    """

    def __init__(
        self,
        backbone: ClipBackbone,
        adapter_reduction: int = 4,
        hidden: Sequence[int] = (128, 64),
        patch_weight: float = 1.0,
        sigma: float = 4.0,
        class_names: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        if patch_weight < 0:
            raise ConfigError(f"InCTRL: patch_weight must be >= 0, got {patch_weight}")
        self.backbone = backbone
        self.patch_weight = patch_weight
        self.sigma = sigma
        self.prompts = TextPrompts("inctrl", class_names)
        grid = backbone.grid
        self.adapter = Adapter(backbone.embed_dim, adapter_reduction)
        self.image_head = ScoreHead(backbone.embed_dim, hidden)
        self.holistic_head = ScoreHead(grid[0] * grid[1], hidden)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for module in (self.adapter, self.image_head, self.holistic_head) for p in module.parameters()]

    # ----- features --------------------------------------------------------------------------------------------
    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(B, L, N, C) normalised patch tokens (layers stacked per sample) and (B, D) raw image embeddings."""
        features = self.backbone(images, embedding=True, normalize_embedding=False)
        assert features.embedding is not None
        tokens = torch.stack([F.normalize(t.float(), dim=-1) for t in features.patch_tokens], dim=1)
        return tokens, features.embedding.float()

    def text(self, categories: Sequence[str]) -> Tensor:
        """(len(categories), 2, D) cached text prototypes."""
        cached = {c: self.prompts.embeddings(self.backbone, c) for c in dict.fromkeys(categories)}
        return torch.stack([cached[c] for c in categories]).float()

    def encode_references(
        self, images: Tensor, category: str, settings: Mapping[str, Any] = NO_SETTINGS
    ) -> PromptFeatures:
        tokens, embeddings = self.encode(images)
        return PromptFeatures(
            patch_tokens=tokens.transpose(0, 1).flatten(1, 2).unsqueeze(0),  # (K, L, N, C) -> (1, L, K*N, C)
            embeddings=embeddings.unsqueeze(0),
            text=self.text([category]),
        )

    # ----- scoring ---------------------------------------------------------------------------------------------
    def score_features(
        self, tokens: Tensor, embeddings: Tensor, prompts: PromptFeatures, batch_statistics: bool = False
    ) -> InCTRLScores:
        """Score encoded queries against prompts; each row depends only on its own query and prompts unless
        ``batch_statistics`` (the heads' BatchNorm on the batch, for the training loss only)."""
        with torch.autocast(tokens.device.type, enabled=False):
            residual_map = patch_residual(tokens, prompts.patch_tokens)  # (B, N)
            # Query minus prototype (paper Eq. 4); the official code subtracts the other way round, which is the
            # same family of functions (eta's first layer absorbs the sign).
            residual = self.adapter(embeddings) - self.adapter(prompts.embeddings).mean(dim=1)
            image = self.image_head(residual, batch_statistics)
            logits = TEXT_LOGIT_SCALE * torch.einsum("bd,bcd->bc", F.normalize(embeddings, dim=-1), prompts.text)
            text = logits.softmax(dim=-1)[:, 1]
            holistic = self.holistic_head(residual_map + image[:, None] + text[:, None], batch_statistics)
            patch_max = residual_map.amax(dim=1)
            score = (holistic + self.patch_weight * patch_max) / (1.0 + self.patch_weight)
        return InCTRLScores(score, image, text, holistic, patch_max, residual_map)

    def score_with_support(
        self, images: Tensor, support: Tensor, categories: Sequence[str], batch_statistics: bool = False
    ) -> InCTRLScores:
        """Training: each query (B, 3, H, W) against its own K prompts (B, K, 3, H, W), in one backbone pass."""
        batch, shots = support.shape[:2]
        tokens, embeddings = self.encode(torch.cat([images, support.flatten(0, 1)]))
        prompt_tokens = tokens[batch:].unflatten(0, (batch, shots))  # (B, K, L, N, C)
        prompts = PromptFeatures(
            patch_tokens=prompt_tokens.transpose(1, 2).flatten(2, 3),  # (B, L, K*N, C): a permute, not a reshape
            embeddings=embeddings[batch:].unflatten(0, (batch, shots)),
            text=self.text(categories),
        )
        return self.score_features(tokens[:batch], embeddings[:batch], prompts, batch_statistics)

    def encode_queries(self, images: Tensor) -> QueryFeatures:
        """The reference-independent part of scoring a query batch: its tokens and embeddings."""
        tokens, embeddings = self.encode(images)
        return QueryFeatures(tokens, embeddings, images.shape[-1])

    def score(self, queries: QueryFeatures, references: PromptFeatures, category: str) -> AnomalyPrediction:
        """Encoded queries against one category's prompts: the score, its parts, and the residual map upsampled."""
        scores = self.score_features(queries.tokens, queries.embeddings, references)
        patch_scores = scores.residual_map.unflatten(1, self.backbone.grid)
        return AnomalyPrediction(
            score=scores.score,
            anomaly_map=upsample_and_smooth(patch_scores, queries.image_size, self.sigma),
            parts={
                "image": scores.image,
                "text": scores.text,
                "holistic": scores.holistic,
                "patch_max": scores.patch_max,
            },
        )

"""WinCLIP (zero-shot) and WinCLIP+ (few-shot), Jeong et al., CVPR 2023, on the shared frozen CLIP.

Zero-shot: the image embedding and every window embedding (``window_encoder``) are scored against the normal and
anomalous text prototypes of the compositional prompt ensemble (softmax at a temperature, the anomalous
probability); the window scores of each scale are aggregated onto patches by harmonic averaging (``windows``), and
the image score (the whole-image "window") and the per-scale maps are combined by a harmonic mean as well.

Few-shot (K >= 1 references): a memory of the references' window embeddings (per scale) and patch features; each
query window and patch gets its visual association score ``(1 - max cosine similarity to the memory) / 2``; window
scores are aggregated onto patches harmonically, the patch-level and per-scale maps averaged. The zero-shot and
few-shot maps are averaged, and the image score is the mean of the zero-shot image score and the few-shot map's
maximum (paper Sec. 3.3). With K = 0 the model is the zero-shot WinCLIP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gad.errors import ConfigError
from gad.models.components.anomaly_map import upsample_and_smooth
from gad.models.components.clip_backbone import ClipBackbone
from gad.models.components.few_shot import AnomalyPrediction, FewShotModel
from gad.models.components.text_prompts import PromptSetName, TextPrompts
from gad.models.inctrl.residual import patch_residual
from gad.models.winclip.window_encoder import check_class_token_pooling, window_embeddings
from gad.models.winclip.windows import harmonic_aggregation, harmonic_mean, window_masks

# WinCLIP's prompt ensemble (7 normal and 4 anomalous states x 22 templates); InCTRL took it over unchanged, so
# text_prompts holds it once, under InCTRL's name.
PROMPT_SET: PromptSetName = "inctrl"


@dataclass
class WinCLIPQueries:
    """What WinCLIP computes of images without references (done once per batch, whatever the reference set).

    embedding: (B, D) L2-normalised image embedding; windows: per scale (B, W, D) L2-normalised window embeddings;
    patches: per tapped layer (B, N, C) L2-normalised patch features (``ln_post`` of the tapped tokens).
    """

    embedding: Tensor
    windows: list[Tensor]
    patches: list[Tensor]


@dataclass
class WinCLIPReferences:
    """The few-shot memory of K references: per scale (K * W, D) window embeddings and per tapped layer (K * N, C)
    patch features; empty lists for K = 0 (zero-shot)."""

    shots: int
    windows: list[Tensor]
    patches: list[Tensor]


class WinCLIPModel(FewShotModel):
    """WinCLIP / WinCLIP+ on a frozen CLIP; nothing is trained.

    Args:
        backbone: the frozen CLIP; its tapped ``layers`` give the few-shot patch features.
        scales: window sizes in patches (the paper: small 2 x 2 and mid 3 x 3).
        stride: window stride in patches (the paper: 1).
        temperature: of the softmax over the two text prototypes.
        sigma: Gaussian smoothing of the upsampled map, in pixels.
        class_names: words for the text prompts per category (default: the category, ``_`` as spaces).
    """

    def __init__(
        self,
        backbone: ClipBackbone,
        scales: Sequence[int] = (2, 3),
        stride: int = 1,
        temperature: float = 0.07,
        sigma: float = 4.0,
        class_names: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        if not scales or temperature <= 0:
            raise ConfigError(
                f"WinCLIP: give at least one window scale and a temperature > 0 (got {scales}, {temperature})"
            )
        check_class_token_pooling(backbone)
        self.backbone = backbone
        self.scales = tuple(int(s) for s in scales)
        self.temperature = temperature
        self.sigma = sigma
        self.prompts = TextPrompts(PROMPT_SET, class_names)
        for size in self.scales:
            self.register_buffer(f"masks_{size}", window_masks(backbone.grid, size, stride), persistent=False)

    @property
    def masks(self) -> list[Tensor]:
        """Per scale, the (W, size * size) patch indices of its windows."""
        return [getattr(self, f"masks_{size}") for size in self.scales]

    @property
    def patches(self) -> int:
        return self.backbone.grid[0] * self.backbone.grid[1]

    # ----- features --------------------------------------------------------------------------------------------
    def encode_queries(self, images: Tensor) -> WinCLIPQueries:
        """Image, window and patch features: one pass for the whole image, then one per window scale."""
        features = self.backbone(images, embedding=True)
        assert features.embedding is not None
        visual: Any = self.backbone.model.visual
        with torch.no_grad():
            patches = [nn.functional.normalize(visual.ln_post(t), dim=-1) for t in features.patch_tokens]
        return WinCLIPQueries(features.embedding, window_embeddings(self.backbone, images, self.masks), patches)

    def encode_references(self, images: Tensor, category: str) -> WinCLIPReferences:
        """The few-shot memory of (K, 3, H, W) references; K = 0 gives the empty memory of zero-shot WinCLIP."""
        if len(images) == 0:
            return WinCLIPReferences(0, [], [])
        encoded = self.encode_queries(images)
        return WinCLIPReferences(
            len(images), [w.flatten(0, 1) for w in encoded.windows], [p.flatten(0, 1) for p in encoded.patches]
        )

    def text(self, category: str, device: torch.device) -> Tensor:
        """(2, D) normal and anomalous text prototypes of a category, in float32."""
        return self.prompts.embeddings(self.backbone, category).to(device, torch.float32)

    # ----- scoring ---------------------------------------------------------------------------------------------
    def anomaly_probability(self, embeddings: Tensor, text: Tensor) -> Tensor:
        """(...) probability of the anomalous prototype for (..., D) unit embeddings (paper Eq. 1), in float32."""
        return ((embeddings.float() @ text.T) / self.temperature).softmax(dim=-1)[..., 1]

    def zero_shot(self, queries: WinCLIPQueries, text: Tensor) -> tuple[Tensor, Tensor]:
        """(B,) image scores and (B, N) patch map from the text prototypes alone."""
        image = self.anomaly_probability(queries.embedding, text)
        maps = [image[:, None].expand(-1, self.patches)]
        for windows, masks in zip(queries.windows, self.masks):
            maps.append(harmonic_aggregation(self.anomaly_probability(windows, text), masks, self.patches))
        return image, harmonic_mean(torch.stack(maps), dim=0)

    def few_shot(self, queries: WinCLIPQueries, references: WinCLIPReferences) -> Tensor:
        """(B, N) visual association map against the references' memory."""
        maps = [patch_residual(torch.stack(queries.patches, 1), torch.stack(references.patches)[None])]
        for windows, memory, masks in zip(queries.windows, references.windows, self.masks):
            distances = patch_residual(windows[:, None], memory[None, None])  # (B, W)
            maps.append(harmonic_aggregation(distances, masks, self.patches))
        return torch.stack(maps).mean(dim=0)

    def score(self, queries: WinCLIPQueries, references: WinCLIPReferences, category: str) -> AnomalyPrediction:
        """Score encoded queries against one reference set (K = 0: zero-shot), in float32 whatever the autocast
        setting: harmonic means and small cosine distances lose too much in bf16."""
        device = queries.embedding.device
        with torch.autocast(device.type, enabled=False):
            zero_image, patch_map = self.zero_shot(queries, self.text(category, device))
            score, parts = zero_image, {"zero_shot": zero_image}
            if references.shots:
                few_map = self.few_shot(queries, references)
                parts["few_shot"] = few_map.amax(dim=1)
                score = (zero_image + parts["few_shot"]) / 2
                patch_map = (patch_map + few_map) / 2
            size = self.backbone.image_size
            anomaly_map = upsample_and_smooth(patch_map.unflatten(1, self.backbone.grid), size, self.sigma)
        return AnomalyPrediction(score=score, anomaly_map=anomaly_map, parts=parts)

    def predict(self, images: Tensor, references: WinCLIPReferences, category: str) -> AnomalyPrediction:
        return self.score(self.encode_queries(images), references, category)

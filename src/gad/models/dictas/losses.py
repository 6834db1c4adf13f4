"""DictAS's training losses (spec A.5): query loss, contrastive query constraint, text alignment constraint."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

EPS = 1e-6


@dataclass
class DictASLosses:
    """The three terms and their weighted total ``loss = query + lambda_cqc * cqc + lambda_tac * tac``."""

    loss: Tensor
    query: Tensor
    cqc: Tensor
    tac: Tensor


def patch_anomaly_mask(mask: Tensor, grid: tuple[int, int]) -> Tensor:
    """(B, 1, H, W) pixel mask to a (B, h*w) {0, 1} patch mask: binarise, bilinear resize, binarise again."""
    binary = (mask > 0.5).float()
    resized = nn.functional.interpolate(binary, size=grid, mode="bilinear", align_corners=True)
    return (resized > 0.5).float().flatten(1)


def query_losses(distance: Tensor, anomalous: Tensor) -> tuple[Tensor, Tensor]:
    """Query loss and contrastive query constraint of one layer and scale.

    distance: (B, N) 1 - cos between each query token and what it retrieved; anomalous: (B, N) {0, 1}.
    The query loss is the mean over samples of the mean distance of their normal patches (learn to retrieve
    normal content). The constraint is, per sample, max(0, d_normal - d_anomalous), zero for samples without an
    anomaly, averaged over the samples where it is not zero (anomalies must be harder to retrieve than normal
    patches; no margin, as the official code).
    """
    normal = 1 - anomalous
    d_normal = (distance * normal).sum(dim=1) / (normal.sum(dim=1) + EPS)
    d_anomalous = (distance * anomalous).sum(dim=1) / (anomalous.sum(dim=1) + EPS)
    violation = torch.where(d_anomalous == 0, torch.zeros_like(d_normal), (d_normal - d_anomalous).clamp(min=0))
    cqc = violation.sum() / ((violation != 0).sum() + EPS)
    return d_normal.mean(), cqc


def text_alignment_loss(query_embedding: Tensor, retrieved_embedding: Tensor, text: Tensor, label: Tensor) -> Tensor:
    """CE(query image vs its label) + CE(retrieved content vs "normal").

    query_embedding, retrieved_embedding: (B, D) global embeddings from the head; text: (B, 2, D) normal/abnormal
    text embeddings of each sample's category; label: (B,) 1 = anomalous. The retrieved content always comes from
    normal references, so it is pushed toward the normal text; the query toward its own label.
    """

    def logits(x: Tensor) -> Tensor:
        x = nn.functional.normalize(x.float(), dim=-1)
        return 100 * torch.einsum("bd,bkd->bk", x, text.to(x.dtype))

    normal = torch.zeros_like(label)
    return nn.functional.cross_entropy(logits(query_embedding), label) + nn.functional.cross_entropy(
        logits(retrieved_embedding), normal
    )

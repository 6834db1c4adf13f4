"""One batch contract shared by datasets, models, metrics and reports: fields by name, never by position."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass
class Batch:
    """A batch of images with their ground truth.

    image: (B, 3, H, W) float in [0, 1]; each model applies its own normalisation.
    label: (B,) long, 1 = anomalous.
    mask: (B, 1, H, W) float {0, 1}, or ``None`` for datasets without pixel annotations.
    support: (B, K, 3, H, W) per-sample normal references built by a training pipeline, else ``None``.
    index: (B,) long, each sample's position in its evaluation dataset (metrics count a sample repeated by a
        distributed sampler's padding once), else ``None``.
    """

    image: Tensor
    label: Tensor
    mask: Tensor | None
    category: list[str]
    defect: list[str]
    path: list[str]
    support: Tensor | None = None
    index: Tensor | None = None

    def __len__(self) -> int:
        return len(self.path)


def collate_batch(items: list[dict[str, Any]]) -> Batch:
    """Stack dataset items; a batch has masks only if every item has one."""
    masks = [item["mask"] for item in items]
    return Batch(
        image=torch.stack([item["image"] for item in items]),
        label=torch.tensor([item["label"] for item in items], dtype=torch.long),
        mask=None if any(m is None for m in masks) else torch.stack(masks),
        category=[item["category"] for item in items],
        defect=[item["defect"] for item in items],
        path=[item["path"] for item in items],
        support=torch.stack([item["support"] for item in items]) if "support" in items[0] else None,
        index=torch.tensor([item["index"] for item in items], dtype=torch.long) if "index" in items[0] else None,
    )

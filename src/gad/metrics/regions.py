"""Ground-truth regions for PRO: each anomalous pixel weighs 1 / (its region's area x the number of regions)."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor


def overlap_weights(masks: Tensor) -> Tensor:
    """PRO weights of the positive pixels of (N, H, W) masks, in the order of ``masks.reshape(-1) > 0``.

    Regions are the 8-connected components of each mask (as ``skimage.measure.label`` finds them by default), so
    summing the weights of the pixels above a threshold gives the mean over all regions of their covered fraction.
    """
    weights: list[np.ndarray] = []
    regions = 0
    for mask in masks.numpy().astype(np.uint8, copy=False):
        if not mask.any():
            continue
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        weights.append(1.0 / stats[:, cv2.CC_STAT_AREA].astype(np.float64)[labels[mask > 0]])
        regions += count - 1
    if not weights:
        return torch.zeros(0, dtype=torch.float64)
    return torch.from_numpy(np.concatenate(weights) / regions)

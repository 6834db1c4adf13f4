"""From patch-grid scores to an image-sized anomaly map and an image score."""

from __future__ import annotations

import math

import kornia
from torch import Tensor, nn


def upsample_and_smooth(patch_scores: Tensor, image_size: int, sigma: float, align_corners: bool = False) -> Tensor:
    """(B, h, w) patch scores to a (B, 1, S, S) map: bilinear upsampling, then a Gaussian blur.

    The kernel spans 4 sigma on each side, as ``scipy.ndimage.gaussian_filter`` (used by the papers' code) does.
    ``align_corners``: as the method's official upsampling (DictAS uses ``True``).
    """
    maps = nn.functional.interpolate(
        patch_scores.unsqueeze(1), size=(image_size, image_size), mode="bilinear", align_corners=align_corners
    )
    if sigma <= 0:
        return maps
    radius = int(math.ceil(4 * sigma))
    return kornia.filters.gaussian_blur2d(maps, (2 * radius + 1, 2 * radius + 1), (sigma, sigma), border_type="reflect")

"""From patch-grid scores to an image-sized anomaly map and an image score."""

from __future__ import annotations

import torch
from torch import Tensor, nn

# scipy.ndimage.gaussian_filter's default: the kernel reaches int(TRUNCATE * sigma + 0.5) pixels on each side.
TRUNCATE = 4.0


def upsample(patch_scores: Tensor, image_size: int, align_corners: bool = False) -> Tensor:
    """(B, h, w) patch scores to a (B, 1, S, S) map by bilinear upsampling.

    ``align_corners``: as the method's official upsampling (DictAS uses ``True``).
    """
    return nn.functional.interpolate(
        patch_scores.unsqueeze(1), size=(image_size, image_size), mode="bilinear", align_corners=align_corners
    )


def upsample_and_smooth(patch_scores: Tensor, image_size: int, sigma: float, align_corners: bool = False) -> Tensor:
    """``upsample``, then ``gaussian_smooth``."""
    return gaussian_smooth(upsample(patch_scores, image_size, align_corners), sigma)


def gaussian_smooth(maps: Tensor, sigma: float) -> Tensor:
    """(B, 1, H, W) maps blurred as ``scipy.ndimage.gaussian_filter(map, sigma)`` with its defaults (mode
    ``reflect``, truncate 4), which the papers' code applies: the border included, because the maximum of the map
    (the image score) often lies there. ``sigma <= 0``: unchanged.

    scipy's ``reflect`` repeats the edge pixel (``d c b a | a b c d | d c b a``) and keeps mirroring when the
    kernel is wider than the map; the padding is an index gather and the blur two 1-D convolutions, so it runs on
    any device and exports to ONNX (the indices are constants of the graph).
    """
    if sigma <= 0:
        return maps
    radius = int(TRUNCATE * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * offsets**2 / sigma**2)
    kernel = (kernel / kernel.sum()).to(device=maps.device, dtype=maps.dtype)
    height, width = maps.shape[-2:]
    rows = maps.index_select(2, _reflected(height, radius, maps.device))
    maps = nn.functional.conv2d(rows, kernel.view(1, 1, -1, 1))
    columns = maps.index_select(3, _reflected(width, radius, maps.device))
    return nn.functional.conv2d(columns, kernel.view(1, 1, 1, -1))


def _reflected(size: int, radius: int, device: torch.device) -> Tensor:
    """Source index of each position of an axis padded by ``radius`` on both sides, mirrored half-sample
    symmetrically (period ``2 * size``), as scipy's ``reflect`` mode."""
    position = torch.arange(-radius, size + radius, device=device) % (2 * size)
    return torch.where(position < size, position, 2 * size - 1 - position)

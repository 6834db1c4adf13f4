"""Heat-map overlays of anomaly maps on their images: one renderer for predictions, reports and wandb."""

from __future__ import annotations

import cv2
import numpy as np
from torch import Tensor


def to_hwc_uint8(image: Tensor | np.ndarray) -> np.ndarray:
    """(3, H, W) or (H, W, 3) float in [0, 1] (tensor or array), or uint8 (H, W, 3): an (H, W, 3) uint8 RGB array."""
    array = image.detach().float().cpu().numpy() if isinstance(image, Tensor) else np.asarray(image)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return array


def heatmap_overlay(
    image: Tensor | np.ndarray,
    anomaly_map: Tensor | np.ndarray,
    vmin: float | None = None,
    vmax: float | None = None,
    alpha: float = 0.5,
) -> np.ndarray:
    """The image with its anomaly map blended on top as a JET colour map, (H, W, 3) uint8 RGB.

    The map is scaled to [0, 1] by ``vmin``/``vmax`` (default: its own minimum and maximum). Pass one fixed
    range for a whole set of images (e.g. the set's score range) so that colours compare across images.
    """
    rgb = to_hwc_uint8(image)
    heat = (
        anomaly_map.detach().float().cpu().numpy()
        if isinstance(anomaly_map, Tensor)
        else np.asarray(anomaly_map, float)
    )
    heat = heat.reshape(heat.shape[-2:])
    low = float(heat.min()) if vmin is None else vmin
    high = float(heat.max()) if vmax is None else vmax
    scaled: np.ndarray = np.clip((heat - low) / max(high - low, 1e-12), 0.0, 1.0)
    if scaled.shape != rgb.shape[:2]:
        scaled = cv2.resize(scaled, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    colours = cv2.cvtColor(cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(rgb, 1.0 - alpha, colours, alpha, 0.0)

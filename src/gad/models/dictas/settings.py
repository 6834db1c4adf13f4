"""How a dictionary is read at inference: which layers and scales, smoothing, text fusion, reference rotations."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class InferenceSettings:
    """Inference choices of one category's dictionary.

    layers: 1-based CLIP blocks averaged into the map, a subset of the tapped ones (``None``: all tapped).
    scales: pooling kernels averaged into the map (empty: the training scales).
    sigma: Gaussian smoothing of the upsampled map, in pixels (0: none).
    alpha: weight of the CLIP text score in the image score: alpha * text + (1 - alpha) * map maximum.
    rotations: angles in degrees; each reference is added again rotated by every angle (the official trick for
        MVTec ``screw``, whose parts lie at any orientation). Empty: references as given.
    """

    layers: tuple[int, ...] | None = None
    scales: tuple[int, ...] = ()
    sigma: float = 6.0
    alpha: float = 0.0
    rotations: tuple[float, ...] = field(default_factory=tuple)

"""The official test-time rules per dataset (``BESTSEGMENTATION`` mode of the DictAS code), to reproduce the paper.

They were tuned by the authors on the test sets, so they are an explicit opt-in (``protocol: mvtec`` etc.),
never a default. Dataset keys are lower-case versions of the official names.
"""

from __future__ import annotations

from typing import Literal

from gad.errors import ConfigError
from gad.models.dictas.settings import InferenceSettings

Protocol = Literal["mvtec", "visa", "mvtec3d", "mpdd", "btad", "resc", "brats"]
PROTOCOLS: tuple[str, ...] = ("mvtec", "visa", "mvtec3d", "mpdd", "btad", "resc", "brats")

ALL_LAYERS = (6, 12, 18, 24)
SHALLOW_LAYERS = (6, 12)
# Albumentations Rotate at these fixed angles, each added to the original reference (10 images per shot).
SCREW_ROTATIONS = (-180.0, -135.0, -90.0, -45.0, 0.0, 45.0, 90.0, 135.0, 180.0)
SCREW_MAX_SHOTS = 4
# Classes whose image score ignores the text score. The official code names them without a dataset; MVTec
# also has a "wood", which its dataset-level alpha of 0.2 is assumed to take precedence for (inference).
MAP_ONLY_CLASSES = frozenset({"bracket_brown", "metal1", "metal2", "wood"})


def official_settings(protocol: Protocol, category: str, shots: int) -> InferenceSettings:
    """Layers, scales, sigma, alpha and reference rotations the official test script uses for a category.

    Layers: [6, 12] for mvtec and btad (mvtec ``screw`` with more than 4 shots: all four), else [6, 12, 18, 24].
    Scales: [1] for mvtec3d, mpdd and btad, else [1, 3]. Sigma 6. Alpha: 0.2 for mvtec and visa, 0 for
    ``bracket_brown``, ``metal1``, ``metal2``, ``wood``, else 0.5. MVTec ``screw`` with at most 4 shots: every
    reference is also added rotated by -180, -135, ..., 180 degrees.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"Unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    screw = protocol == "mvtec" and category == "screw"
    layers = SHALLOW_LAYERS if protocol in ("mvtec", "btad") and not (screw and shots > SCREW_MAX_SHOTS) else ALL_LAYERS
    scales = (1,) if protocol in ("mvtec3d", "mpdd", "btad") else (1, 3)
    if protocol in ("mvtec", "visa"):
        alpha = 0.2
    else:
        alpha = 0.0 if category in MAP_ONLY_CLASSES else 0.5
    rotations = SCREW_ROTATIONS if screw and shots <= SCREW_MAX_SHOTS else ()
    return InferenceSettings(layers=layers, scales=scales, sigma=6.0, alpha=alpha, rotations=rotations)

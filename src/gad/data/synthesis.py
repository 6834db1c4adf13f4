"""Synthetic anomalies for self-supervised training: Perlin-noise regions filled with a foreign texture (DRAEM).

The process (DRAEM, Zavrtanik et al. 2021; used by DictAS) is method-agnostic:

1. a binary region: 2-D Perlin noise with a random number of periods per axis, rotated by a random angle and
   thresholded (``perlin_mask``);
2. a texture: an image from a folder (DTD in the papers) or a procedural texture when no folder is given,
   altered by 3 distinct random photometric/geometric ops out of 10 (``augment_texture``);
3. a blend inside the region, keeping a random fraction of the original: ``blend``.

Every random choice is drawn from a ``numpy.random.Generator`` passed in, so a seeded generator reproduces the
same anomaly. Images are RGB uint8 ``(H, W, 3)``; masks are uint8 ``(H, W)`` in {0, 1}.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageOps
from torch import Tensor

from gad.data.images import IMAGE_SUFFIXES, read_rgb
from gad.data.sources.base import DataLayoutError
from gad.errors import ConfigError

__all__ = [
    "TEXTURE_OPS",
    "FolderTextures",
    "PerlinAnomalySynthesizer",
    "ProceduralTextures",
    "SyntheticAnomaly",
    "TextureSource",
    "augment_texture",
    "blend",
    "build_texture_ops",
    "choose_texture_ops",
    "perlin_mask",
    "perlin_noise",
    "texture_source",
]

TextureOp = Callable[[np.ndarray, np.random.Generator], np.ndarray]


# ----------------------------------------------------------------------------- Perlin noise and masks


def perlin_noise(shape: tuple[int, int], periods: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """2-D gradient noise, float32 in [-1, 1], with ``periods`` = (rows, columns) lattice cells across the image.

    Random unit gradients sit on a (rows + 1) x (columns + 1) lattice; each pixel blends the dot products of its
    cell's four corner gradients with its offsets from them, weighted by the quintic fade 6t^5 - 15t^4 + 10t^3.
    That blend is separable: first along y for every lattice column, then along x, each step a weighted sum of
    two gathered lattice lines per pixel (O(H W) work, any size; DRAEM's version needs sizes divisible by the
    periods). No matrix product, so no BLAS threads: inside DataLoader workers that share a few cores, small
    multithreaded products cost more CPU than they save. The sqrt(2) factor maps the theoretical range
    [-1/sqrt(2), 1/sqrt(2)] to [-1, 1], as in DRAEM, so that its 0.5 threshold means the same.
    """
    rows, columns = periods
    if min(rows, columns) < 1 or min(shape) < 1:
        raise ConfigError(f"perlin_noise needs positive sizes and periods, got shape {shape}, periods {periods}")
    angles = 2 * np.pi * rng.random((rows + 1, columns + 1))
    grad_y, grad_x = np.sin(angles).astype(np.float32), np.cos(angles).astype(np.float32)
    cell_y, weights_y, offsets_y = _lattice_weights(shape[0], rows)
    cell_x, weights_x, offsets_x = _lattice_weights(shape[1], columns)
    # y-gradient term: offset along y, plain fade along x; x-gradient term: the other way round.
    noise = _blend(_blend(grad_y, cell_y, offsets_y).T, cell_x, weights_x).T
    noise += _blend(_blend(grad_x, cell_y, weights_y).T, cell_x, offsets_x).T
    return np.float32(np.sqrt(2.0)) * noise


def _blend(lines: np.ndarray, cell: np.ndarray, weights: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Per pixel p: weights[0][p] * lines[cell[p]] + weights[1][p] * lines[cell[p] + 1], stacked (P, ...)."""
    return weights[0][:, None] * lines[cell] + weights[1][:, None] * lines[cell + 1]


def _lattice_weights(
    size: int, periods: int
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Each pixel's lower lattice neighbour (in cells), the fade weights of its two neighbours, and those weights
    times the pixel's offset from each neighbour."""
    position = np.arange(size, dtype=np.float32) * np.float32(periods / size)
    floor = np.floor(position)
    offset, cell = position - floor, floor.astype(np.int64)
    fade = _fade(offset)
    return cell, (1 - fade, fade), ((1 - fade) * offset, fade * (offset - 1))


def _fade(t: np.ndarray) -> np.ndarray:
    return t * t * t * (t * (t * 6 - 15) + 10)


def perlin_mask(
    shape: tuple[int, int],
    rng: np.random.Generator,
    scales: Sequence[int] = (2, 4),
    threshold: float = 0.5,
) -> np.ndarray:
    """A binary anomaly region (uint8 {0, 1}); it is empty now and then, as in DRAEM.

    The periods per axis are drawn independently from ``scales`` (DictAS: {2, 4}; DRAEM: {1, 2, ..., 32}), the
    noise is rotated by U(-90, 90) degrees (bilinear, zeros outside) and thresholded at ``threshold``.
    """
    rows, columns = (int(s) for s in rng.choice(np.asarray(scales), size=2))
    noise = perlin_noise(shape, (rows, columns), rng)
    noise = _rotate(noise, float(rng.uniform(-90.0, 90.0)))
    return (noise > threshold).astype(np.uint8)


def _rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


# ----------------------------------------------------------------------------- texture augmentation


def _gamma_contrast(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gamma in U(0.5, 2) drawn per channel (imgaug ``GammaContrast((0.5, 2.0), per_channel=True)``)."""
    gammas = rng.uniform(0.5, 2.0, size=3)
    lut = np.rint(255.0 * (np.arange(256)[:, None] / 255.0) ** gammas).astype(np.uint8)
    return lut[image, np.arange(3)]


def _brightness(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Luma times U(0.8, 1.2) plus an integer in [-30, 30], in random order (imgaug ``MultiplyAndAddToBrightness``;
    imgaug also draws the colour space of the luma channel, here always YCrCb)."""
    ycrcb = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)
    luma = ycrcb[..., 0].astype(np.float32)
    factor, offset = rng.uniform(0.8, 1.2), float(rng.integers(-30, 31))
    luma = luma * factor + offset if rng.random() < 0.5 else (luma + offset) * factor
    ycrcb[..., 0] = np.clip(np.rint(luma), 0, 255).astype(np.uint8)
    return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB)


def _sharpness(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """PIL sharpness enhancement with a factor in U(0, 2): blurs below 1, sharpens above (``pillike``)."""
    return np.asarray(ImageEnhance.Sharpness(Image.fromarray(image)).enhance(rng.uniform(0.0, 2.0)))


def _hue_saturation(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Independent integer shifts in [-50, 50] of hue (on imgaug's 255-per-turn scale) and saturation."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.int16)
    hue_shift, saturation_shift = rng.integers(-50, 51, size=2)
    hsv[..., 0] = (hsv[..., 0] + round(hue_shift * 180 / 255)) % 180  # OpenCV hue is 0..179 for a full turn
    hsv[..., 1] = np.clip(hsv[..., 1] + saturation_shift, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


def _autocontrast(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """PIL autocontrast cutting an integer 0..20 % of each histogram end (imgaug ``pillike.Autocontrast``)."""
    return np.asarray(ImageOps.autocontrast(Image.fromarray(image), cutoff=int(rng.integers(0, 21))))


class _Albumentation:
    """An albumentations transform as a texture op, its randomness drawn from the caller's generator."""

    def __init__(self, transform: A.BasicTransform) -> None:
        self.transform = transform

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        self.transform.set_random_state(rng, random.Random(int(rng.integers(2**63))))
        return self.transform(image=image)["image"]


def build_texture_ops() -> dict[str, TextureOp]:
    """The 10 ops of DRAEM/DictAS (imgaug there), by name, with imgaug's parameter ranges.

    A function so that tests can build the albumentations transforms with warnings turned into errors:
    albumentations only warns about argument names it does not know (e.g. 1.x names).
    """
    return {
        "gamma_contrast": _gamma_contrast,
        "brightness": _brightness,
        "sharpness": _sharpness,
        "hue_saturation": _hue_saturation,
        # Pixels >= a threshold in U(32, 128) are inverted, on half of the textures.
        "solarize": _Albumentation(A.Solarize(threshold_range=(32 / 255, 128 / 255), p=0.5)),
        "posterize": _Albumentation(A.Posterize(num_bits=(1, 8), p=1.0)),
        "invert": _Albumentation(A.InvertImg(p=1.0)),
        "autocontrast": _autocontrast,
        "equalize": _Albumentation(A.Equalize(mode="pil", by_channels=True, p=1.0)),
        "rotate": _Albumentation(
            A.Affine(rotate=(-45, 45), interpolation=cv2.INTER_LINEAR, border_mode=cv2.BORDER_CONSTANT, fill=0, p=1.0)
        ),
    }


TEXTURE_OPS: dict[str, TextureOp] = build_texture_ops()


def choose_texture_ops(rng: np.random.Generator, count: int = 3) -> list[str]:
    """``count`` distinct op names, in the order they will be applied."""
    names = list(TEXTURE_OPS)
    return [names[i] for i in rng.choice(len(names), size=count, replace=False)]


def augment_texture(texture: np.ndarray, rng: np.random.Generator, count: int = 3) -> np.ndarray:
    """The texture through ``count`` distinct random ops: the same folder image gives many different fillings."""
    for name in choose_texture_ops(rng, count):
        texture = TEXTURE_OPS[name](texture, rng)
    return texture


# ----------------------------------------------------------------------------- texture sources


class TextureSource(ABC):
    """Where the foreign material of synthetic anomalies comes from."""

    @abstractmethod
    def texture(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """A random RGB uint8 texture of ``shape`` (height, width)."""


class FolderTextures(TextureSource):
    """Every image under ``folder`` (recursively, sorted), e.g. DTD's ``images/{class}/*.jpg``, resized to fit.

    Raises ``DataLayoutError`` naming the folder if it does not exist or holds no image.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).expanduser()
        if not self.folder.is_dir():
            raise DataLayoutError(
                f"anomaly texture folder {self.folder} does not exist. Point it at DTD's images/ folder "
                "(https://www.robots.ox.ac.uk/~vgg/data/dtd/) or any folder of images, or leave it unset to use "
                "procedural textures."
            )
        self.paths = sorted(p for p in self.folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.paths:
            raise DataLayoutError(
                f"anomaly texture folder {self.folder} holds no image file ({', '.join(sorted(IMAGE_SUFFIXES))})."
            )

    def texture(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        image = read_rgb(self.paths[int(rng.integers(len(self.paths)))])
        return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


class ProceduralTextures(TextureSource):
    """Generated textures, the offline stand-in for DTD: clouds or warped stripes in two random colours.

    Chosen over other images of the training set (or of scikit-image) because those may be the very categories
    a model is evaluated on (the quickstart's textures come from scikit-image), which would leak target
    material into training. Both kinds carry detail from 1/2 to 1/64 of the image side, like natural textures.
    """

    def texture(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        pattern = _fractal_noise(shape, rng)
        if rng.random() < 0.5:  # warped stripes (wood grain, bands, marble)
            angle = rng.uniform(0.0, np.pi)
            height, width = shape
            y, x = np.mgrid[0:height, 0:width].astype(np.float32)
            phase = (x * np.cos(angle) + y * np.sin(angle)) / max(height, width)
            stripes = 2 * np.pi * rng.uniform(3.0, 16.0) * phase + rng.uniform(1.0, 6.0) * pattern
            pattern = np.sin(stripes) * 0.8 + 0.2 * _fractal_noise(shape, rng)
        weight = np.clip((pattern + 1.0) / 2.0, 0.0, 1.0)[..., None]
        dark, light = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
        return np.rint(dark + weight * (light - dark)).astype(np.uint8)


def _fractal_noise(shape: tuple[int, int], rng: np.random.Generator, octaves: int = 5) -> np.ndarray:
    """Perlin octaves of doubling frequency and halving amplitude from a random base period, roughly in [-1, 1]."""
    base = int(rng.integers(2, 5))
    total = sum(0.5**octave * perlin_noise(shape, (base * 2**octave,) * 2, rng) for octave in range(octaves))
    return total / np.float32(2.0 - 0.5 ** (octaves - 1))


def texture_source(folder: str | Path | None) -> TextureSource:
    """``FolderTextures(folder)``, or ``ProceduralTextures()`` when no folder is given."""
    return ProceduralTextures() if folder is None else FolderTextures(folder)


# ----------------------------------------------------------------------------- synthesis


def blend(image: np.ndarray, texture: np.ndarray, mask: np.ndarray, beta: float) -> np.ndarray:
    """DRAEM's blend: ``image·(1−m) + (1−β)·texture·m + β·image·m``; float images, mask (H, W) in {0, 1}.

    Outside the mask the image is untouched; inside, the texture weighs 1 − β, so β < 0.8 keeps it visible.
    """
    m = mask.astype(np.float32)[..., None]
    return image * (1 - m) + (1 - beta) * texture * m + beta * image * m


@dataclass(frozen=True)
class SyntheticAnomaly:
    """An image with a synthetic anomaly: ``image`` RGB uint8, ``mask`` uint8 {0, 1}, ``label`` = any masked pixel."""

    image: np.ndarray
    mask: np.ndarray
    label: bool


@dataclass(frozen=True)
class PerlinAnomalySynthesizer:
    """DRAEM synthesis at the resolution of the image it is given.

    Args:
        textures: the foreign material (``texture_source(folder)``).
        scales: Perlin periods per axis to draw from (DictAS (2, 4); DRAEM (1, 2, 4, 8, 16, 32)).
        beta_max: the original image keeps a weight β ~ U[0, beta_max) inside the region.
        threshold: Perlin noise level above which a pixel is anomalous.
        texture_ops: how many distinct ops of ``TEXTURE_OPS`` alter each texture.
    """

    textures: TextureSource
    scales: tuple[int, ...] = (2, 4)
    beta_max: float = 0.8
    threshold: float = 0.5
    texture_ops: int = 3

    def __post_init__(self) -> None:
        if not self.scales or min(self.scales) < 1:
            raise ConfigError(f"Perlin scales must be positive integers, got {list(self.scales)}")
        if not 0.0 <= self.beta_max <= 1.0:
            raise ConfigError(f"beta_max must be in [0, 1], got {self.beta_max}")
        if not 0 <= self.texture_ops <= len(TEXTURE_OPS):
            raise ConfigError(f"texture_ops must be in [0, {len(TEXTURE_OPS)}], got {self.texture_ops}")

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> SyntheticAnomaly:
        shape = image.shape[:2]
        mask = perlin_mask(shape, rng, self.scales, self.threshold)
        texture = augment_texture(self.textures.texture(shape, rng), rng, self.texture_ops)
        beta = rng.uniform(0.0, self.beta_max)
        out = blend(image.astype(np.float32) / 255, texture.astype(np.float32) / 255, mask, beta)
        result = np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)
        return SyntheticAnomaly(image=result, mask=mask, label=bool(mask.any()))

    def anomaly(self, image: np.ndarray, rng: np.random.Generator, attempts: int = 100) -> SyntheticAnomaly:
        """A synthetic anomaly that has at least one pixel: drawn again while the Perlin region comes out empty
        (where the anomaly stands for a labelled one, an empty region would be a wrong label)."""
        for _ in range(attempts):
            synthetic = self(image, rng)
            if synthetic.label:
                return synthetic
        raise ConfigError(
            f"{attempts} Perlin regions in a row came out empty (threshold {self.threshold}, scales "
            f"{list(self.scales)}): lower the threshold"
        )

    def on_tensor(self, image: Tensor, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        """``anomaly`` on a model-ready (3, H, W) [0, 1] tensor: the anomalous tensor and its (1, H, W) mask, at the
        resolution the model sees."""
        pixels = image.mul(255).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
        synthetic = self.anomaly(pixels, rng)
        anomalous = torch.from_numpy(synthetic.image).permute(2, 0, 1).float().div_(255.0)
        return anomalous, torch.from_numpy(synthetic.mask).float().unsqueeze(0)

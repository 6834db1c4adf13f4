"""Reading images and masks from disk into model-ready tensors, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import torch
from PIL import Image
from torch import Tensor

from gad.errors import GadError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})


class ImageReadError(GadError, OSError):
    """An image or mask file that cannot be decoded."""


def read_rgb(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8; grayscale and palette files are converted, as every CLIP expects RGB."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as err:
        raise ImageReadError(f"Cannot read image file {path}: {err}") from err


def read_mask(path: str | Path) -> np.ndarray:
    """(H, W) uint8 in {0, 1}; any non-zero pixel is anomalous (0/255 PNGs as in MVTec AD)."""
    try:
        with Image.open(path) as mask:
            return (np.asarray(mask.convert("L")) > 0).astype(np.uint8)
    except (OSError, ValueError) as err:
        raise ImageReadError(f"Cannot read mask file {path}: {err}") from err


class ResizeToTensor:
    """Resize an image (bicubic, as the CLIP preprocessors) and its mask (nearest) to a square tensor."""

    def __init__(self, image_size: int) -> None:
        self.image_size = image_size
        self.resize = A.Resize(image_size, image_size, interpolation=cv2.INTER_CUBIC, mask_interpolation=cv2.INTER_NEAREST)

    def __call__(self, image: np.ndarray, mask: np.ndarray | None = None) -> tuple[Tensor, Tensor | None]:
        out = self.resize(image=image, mask=mask) if mask is not None else self.resize(image=image)
        tensor = torch.from_numpy(np.ascontiguousarray(out["image"])).permute(2, 0, 1).float().div_(255.0)
        if mask is None:
            return tensor, None
        return tensor, torch.from_numpy(np.ascontiguousarray(out["mask"])).float().unsqueeze(0)


def list_images(folder: Path) -> list[Path]:
    """Image files of one folder, sorted so that every run sees the same order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)

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


WIDE_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})


def read_rgb(path: str | Path, min_side: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8, converted like ``cv2.imread(path, IMREAD_COLOR)`` in the official code: grayscale and
    palette images become RGB, an alpha channel is dropped, 16-bit images are scaled to 8 bits (value / 256).

    ``min_side``: the caller resizes to this side next, so a JPEG may be decoded at 1/2, 1/4 or 1/8 scale (in the
    DCT domain, several times faster) as long as both sides stay at least ``min_side``. Other formats are read
    at full size.
    """
    try:
        with Image.open(path) as image:
            if min_side is not None and image.format == "JPEG":
                image.draft("RGB", (min_side, min_side))
            if image.mode in WIDE_MODES:
                wide = np.asarray(image, dtype=np.float64)
                gray = np.clip(wide / 256.0, 0, 255).astype(np.uint8)
                return np.repeat(gray[:, :, None], 3, axis=2)
            return np.array(image.convert("RGB"))  # writable: torch.from_numpy warns on read-only arrays
    except (OSError, ValueError) as err:
        raise ImageReadError(f"Cannot read image file {path}: {err}") from err


def read_mask(path: str | Path) -> np.ndarray:
    """(H, W) uint8 in {0, 1}; any non-zero pixel is anomalous (0/255 PNGs as in MVTec AD, label maps as in VisA,
    16-bit masks included); for colour masks, any non-zero channel."""
    try:
        with Image.open(path) as mask:
            if mask.mode in WIDE_MODES or mask.mode in ("L", "1", "P", "F"):
                values = np.asarray(mask)
            else:
                values = np.asarray(mask.convert("RGB")).max(axis=2)
            return (values > 0).astype(np.uint8)
    except (OSError, ValueError) as err:
        raise ImageReadError(f"Cannot read mask file {path}: {err}") from err


class ResizeToTensor:
    """Resize an image (bicubic, as the CLIP preprocessors) and its mask (nearest) to a square tensor.

    ``center_crop=False`` squashes the whole image to the square (DictAS); ``True`` resizes the shorter side and
    crops the centre, keeping the aspect ratio (open_clip's preprocessing, used by InCTRL).
    """

    def __init__(self, image_size: int, center_crop: bool = False) -> None:
        self.image_size = image_size
        self.center_crop = center_crop
        interpolation = {"interpolation": cv2.INTER_CUBIC, "mask_interpolation": cv2.INTER_NEAREST}
        if center_crop:
            self.resize = A.Compose(
                [A.SmallestMaxSize(max_size=image_size, **interpolation), A.CenterCrop(image_size, image_size)]
            )
        else:
            self.resize = A.Resize(image_size, image_size, **interpolation)

    def __call__(self, image: np.ndarray, mask: np.ndarray | None = None) -> tuple[Tensor, Tensor | None]:
        out = self.resize(image=image, mask=mask) if mask is not None else self.resize(image=image)
        tensor = torch.from_numpy(np.ascontiguousarray(out["image"])).permute(2, 0, 1).float().div_(255.0)
        if mask is None:
            return tensor, None
        return tensor, torch.from_numpy(np.ascontiguousarray(out["mask"])).float().unsqueeze(0)


def list_images(folder: Path) -> list[Path]:
    """Image files of one folder, sorted so that every run sees the same order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)

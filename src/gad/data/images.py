"""Reading images and masks from disk, with errors that name the file (numpy and PIL only, so that the ONNX
runner shares it on a machine without torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from gad.errors import GadError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})


class ImageReadError(GadError, OSError):
    """An image or mask file that cannot be decoded."""


WIDE_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})


def read_rgb(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8, decoded in full (as the official code), converted like ``cv2.imread(path, IMREAD_COLOR)``
    in the official code: grayscale and palette images become RGB, an alpha channel is dropped, 16-bit images are
    scaled to 8 bits (value / 256)."""
    try:
        with Image.open(path) as image:
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


def list_images(folder: Path) -> list[Path]:
    """Image files of one folder, sorted so that every run sees the same order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)

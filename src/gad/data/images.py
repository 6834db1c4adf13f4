"""Reading images and masks from disk, with errors that name the file (numpy and PIL only, so that the ONNX
runner shares it on a machine without torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass
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


FULL_SCALE = {
    "1": 1,
    "L": 255,
    "P": 255,
    "RGB": 255,
    "F": 1.0,
    "I": 65535,
    "I;16": 65535,
    "I;16L": 65535,
    "I;16B": 65535,
    "I;16N": 65535,
}


@dataclass(frozen=True)
class MaskFile:
    """A mask's values as stored and how they are binarised.

    An intensity mask (0/255 as in MVTec AD, or anti-aliased 0..255) is anomalous at half of full scale: >= 128
    for 8 bits, >= 32768 for 16 bits, >= 0.5 for float masks, as the official code binarises masks at 0.5 after
    ToTensor. A label map (VisA: 0 and a small class label 1..N per defect; RESC: 0/1) has every non-zero value
    below half of full scale: there any non-zero pixel is anomalous, as the official code binarises VisA and RESC
    at > 0. Palette masks hold indices (labels), so they are label maps too.
    """

    values: np.ndarray
    full_scale: float
    labels: bool

    @property
    def threshold(self) -> float:
        """The lowest anomalous value of an intensity mask: 128, 32768 or 0.5."""
        return self.full_scale / 2 if isinstance(self.full_scale, float) else math.ceil(self.full_scale / 2)

    @property
    def binary(self) -> np.ndarray:
        """(H, W) uint8 in {0, 1}."""
        anomalous = self.values > 0 if self.labels else self.values >= self.threshold
        return anomalous.astype(np.uint8)

    @property
    def soft_share(self) -> float:
        """Share of the non-zero pixels that lie strictly between 0 and full scale (anti-aliased or blurred
        edges; 0 for label maps and binary masks)."""
        if self.labels:
            return 0.0
        nonzero = int(np.count_nonzero(self.values))
        between = np.count_nonzero((self.values > 0) & (self.values < self.full_scale))
        return int(between) / nonzero if nonzero else 0.0


def read_mask_file(path: str | Path) -> MaskFile:
    """A mask file's values (colour masks: the largest channel) and its binarisation rule (see ``MaskFile``)."""
    try:
        with Image.open(path) as mask:
            mode = mask.mode if mask.mode in FULL_SCALE else "RGB"
            if mode == "RGB":
                values = np.asarray(mask.convert("RGB")).max(axis=2)
            else:
                values = np.asarray(mask)
    except (OSError, ValueError) as err:
        raise ImageReadError(f"Cannot read mask file {path}: {err}") from err
    full_scale = FULL_SCALE[mode]
    labels = mode in ("1", "P") or (mode != "F" and values.size > 0 and values.max() < full_scale / 2)
    return MaskFile(values, full_scale, bool(labels))


def read_mask(path: str | Path) -> np.ndarray:
    """(H, W) uint8 in {0, 1}: intensity masks binarised at half of full scale, label maps at > 0 (``MaskFile``)."""
    return read_mask_file(path).binary


def list_images(folder: Path) -> list[Path]:
    """Image files of one folder, sorted so that every run sees the same order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)

"""Helpers shared by the converters: finding files in a download, reading images as arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from gad.data.images import IMAGE_SUFFIXES, ImageReadError


def find_one(src: Path, patterns: list[str], depth: int = 4) -> Path | None:
    """The first match (sorted) of any pattern in ``src`` or up to ``depth - 1`` folder levels below it."""
    for pattern in patterns:
        for level in range(depth):
            matches = sorted(src.glob("/".join(["*"] * level + [pattern])))
            if matches:
                return matches[0]
    return None


def images_in(folder: Path) -> list[Path]:
    """Image files of a folder, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_array(path: Path) -> np.ndarray:
    """An image file as stored (grayscale stays (H, W)); errors name the file."""
    try:
        with Image.open(path) as image:
            if image.mode in ("L", "RGB"):
                return np.asarray(image)
            return np.asarray(image.convert("RGB" if image.mode in ("RGBA", "P", "CMYK", "YCbCr") else "L"))
    except (OSError, ValueError) as err:
        raise ImageReadError(f"Cannot read image file {path}: {err}") from err

"""What a caller may hand the detector as images: files, folders, globs, PIL images, numpy arrays or tensors."""

from __future__ import annotations

import glob
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from torch import Tensor

from gad.data.images import IMAGE_SUFFIXES, ImageReadError, list_images, read_rgb
from gad.errors import GadError
from gad.overlay import to_hwc_uint8


class ImageInputError(GadError, ValueError):
    """Images that cannot be used: a path that does not exist, an empty folder, a bad array, mixed sizes."""


@dataclass
class InputImage:
    """One image, named as it is reported (its path, or ``image_<i>``); a file is read only when its pixels are
    needed, so that a long list of files is not held in memory at once."""

    name: str
    source: Path | np.ndarray

    @property
    def pixels(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB."""
        return read_rgb(self.source) if isinstance(self.source, Path) else self.source

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as image tools print it; a file's from its header."""
        if isinstance(self.source, np.ndarray):
            return self.source.shape[1], self.source.shape[0]
        try:
            with Image.open(self.source) as image:
                return image.size
        except (OSError, ValueError) as err:
            raise ImageReadError(f"Cannot read image file {self.source}: {err}") from err


ImageLike = str | Path | Image.Image | np.ndarray | Tensor | InputImage
Images = ImageLike | Sequence[ImageLike]


def expand_paths(specs: str | Path | Iterable[str | Path], what: str) -> list[Path]:
    """Image files from files, folders (their images, sorted) and glob patterns; each spec must give some.

    ``what`` names the argument in errors (e.g. ``--references``).
    """
    specs = [specs] if isinstance(specs, (str, Path)) else list(specs)
    if not specs:
        raise ImageInputError(f"{what}: no image given.")
    found: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            images = list_images(path)
            if not images:
                raise ImageInputError(
                    f"{what}: folder {path} holds no image ({', '.join(sorted(IMAGE_SUFFIXES))}); images in "
                    f"sub-folders are not read: pass a glob such as '{path}/*/*.png'."
                )
        elif path.is_file():
            images = [path]
        elif glob.has_magic(str(spec)):
            images = sorted(
                Path(p) for p in glob.glob(str(spec), recursive=True) if Path(p).suffix.lower() in IMAGE_SUFFIXES
            )
            if not images:
                raise ImageInputError(f"{what}: the pattern {spec} matches no image file.")
        else:
            raise ImageInputError(f"{what}: {path} does not exist (expected an image file, a folder or a glob).")
        found += images
    return list(dict.fromkeys(found))


def load_images(images: Images, what: str) -> list[InputImage]:
    """Images as ``InputImage``s (in-memory ones converted to (H, W, 3) uint8 RGB now, files read when used). Accepts a path, folder or glob (or a list of them), PIL
    images, (H, W[, 3]) numpy arrays (uint8, or float in [0, 1]), (3, H, W) tensors in [0, 1] or an (N, 3, H, W)
    tensor."""
    if isinstance(images, (str, Path)):
        return [InputImage(str(p), p) for p in expand_paths(images, what)]
    if isinstance(images, Tensor) and images.ndim == 4:
        images = list(images)
    if isinstance(images, (Image.Image, np.ndarray, Tensor, InputImage)):
        images = [images]
    items = list(images)
    if not items:
        raise ImageInputError(f"{what}: no image given.")
    loaded: list[InputImage] = []
    for index, item in enumerate(items):
        if isinstance(item, InputImage):
            loaded.append(item)
        elif isinstance(item, (str, Path)):
            loaded += [InputImage(str(p), p) for p in expand_paths(item, what)]
        else:
            loaded.append(InputImage(f"image_{index}", _to_uint8(item, f"{what}[{index}]")))
    return loaded


def check_sizes(images: Sequence[InputImage], expected: tuple[int, int] | None, what: str) -> tuple[int, int]:
    """All images share one size (``expected``, else the first image's); returns it.

    The model compares queries with references patch by patch after resizing both to its input: images of another
    size are stretched differently, so their patches no longer correspond (and usually come from another camera
    or product). ``allow_mixed_sizes`` turns this check off.
    """
    size = expected or images[0].size
    for image in images:
        if image.size != size:
            source = "the references'" if expected else f"the first image's ({images[0].name})"
            raise ImageInputError(
                f"{what}: {image.name} is {image.size[0]}x{image.size[1]} px but {source} size is {size[0]}x{size[1]}. "
                "Images of one product should come from one camera at one size; resize them beforehand, or pass "
                "allow_mixed_sizes=True (--allow_mixed_sizes true) to let each be resized to the model's input."
            )
    return size


def _to_uint8(image: Image.Image | np.ndarray | Tensor, name: str) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.array(image.convert("RGB"))
    array = image.detach().cpu().numpy() if isinstance(image, Tensor) else np.asarray(image)
    channels_ok = array.ndim == 2 or (array.ndim == 3 and (array.shape[0] in (1, 3) or array.shape[-1] in (1, 3)))
    if not channels_ok:
        raise ImageInputError(
            f"{name}: expected an (H, W), (H, W, 3) or (3, H, W) image, got shape {tuple(array.shape)}."
        )
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating):
            raise ImageInputError(f"{name}: expected uint8 or float values in [0, 1], got dtype {array.dtype}.")
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:  # NaN compares false with everything, so the range check below would let it through
            raise ImageInputError(
                f"{name}: {bad} of {array.size} values are NaN or infinite; float images must hold finite values in [0, 1]."
            )
        low, high = float(array.min()), float(array.max())
        if low < 0 or high > 1:
            raise ImageInputError(
                f"{name}: float images must hold values in [0, 1], got [{low:.3g}, {high:.3g}] (divide 0-255 values by 255)."
            )
    return to_hwc_uint8(array)

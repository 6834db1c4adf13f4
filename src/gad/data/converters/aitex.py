"""AITEX fabric: 4096x256 images cut into 256-wide tiles; defect tiles are those whose mask has defect pixels."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gad.data.converters.base import Converter, Output
from gad.data.converters.common import images_in, read_array
from gad.data.sources.prepared import prepared_reader
from gad.data.sources.spec import DatasetSpec, Signature
from gad.data.sources.splits import split_normals

CATEGORY = "aitex"

DEFECT_CODES = {
    "002": "Broken_end",
    "006": "Broken_yarn",
    "010": "Broken_pick",
    "016": "Weft_curling",
    "019": "Fuzzyball",
    "022": "Cut_selvage",
    "023": "Crease",
    "025": "Warp_ball",
    "027": "Knots",
    "029": "Contamination",
    "030": "Nep",
    "036": "Weft_crack",
}


def tiles(width: int, size: int) -> list[int]:
    """Left edges of ``ceil(width / size)`` tiles; a last partial tile is moved left to end at the border."""
    count = max(1, math.ceil(width / size))
    return [min(i * size, max(width - size, 0)) for i in range(count)]


class AITEXConverter(Converter):
    """Rule (InCTRL ``convert_AITEX.py``): tiles of ``H x H`` pixels (256 x 256) along the width.

    Normal images (``NODefect_images/<roll>/*.png``): all 16 tiles, split into ``train/good`` and ``test/good``.
    Defect images (``Defect_images/*.png``, mask ``Mask_images/<name>_mask.png``): only the tiles whose mask
    tile has a non-zero pixel, into ``test/<defect name>`` (from the second ``_`` field of the name, e.g.
    ``019`` → ``Fuzzyball``) with masks ``ground_truth/<defect name>/<tile>_mask.png``. Where an image has
    several masks (``_mask1``, ``_mask2``) their union is used; defect images without any mask are left out
    (counted in the manifest). Tiles are named ``<image stem>_<tile index:02d>.png``.
    """

    name = "aitex"
    raw_layout = (
        "SRC/NODefect_images/<roll>/*.png, SRC/Defect_images/Defect_images/NNNN_CCC_RR.png and "
        "SRC/Mask_images/Mask_images/NNNN_CCC_RR_mask.png (the three AITEX archives unpacked side by side)"
    )

    def convert(self, src: Path, out: Output) -> None:
        normal_root = src / "NODefect_images"
        defect_root = _inner(src / "Defect_images")
        mask_root = _inner(src / "Mask_images")
        for needed in (normal_root, defect_root, mask_root):
            if not needed.is_dir():
                raise self.layout_error(f"missing folder {needed}", src)
        normal_images = sorted(p for roll in sorted(normal_root.iterdir()) if roll.is_dir() for p in images_in(roll))
        normal_images += images_in(normal_root)
        normal_tiles: list[tuple[str, np.ndarray]] = []
        for image in self.bar(normal_images, total=len(normal_images), desc="tiling AITEX normal images"):
            pixels = read_array(image)
            size = pixels.shape[0]
            for index, left in enumerate(tiles(pixels.shape[1], size)):
                normal_tiles.append((f"{image.stem}_{index:02d}", pixels[:, left : left + size]))
        normal_tiles.sort(key=lambda item: item[0])
        train, test = split_normals(normal_tiles, self.test_fraction, self.seed)
        for folder, chosen in (("train", train), ("test", test)):
            for stem, pixels in chosen:
                out.save_image(pixels, f"{CATEGORY}/{folder}/good/{stem}.png")
        without_mask: list[str] = []
        defect_images = images_in(defect_root)
        for image in self.bar(defect_images, total=len(defect_images), desc="tiling AITEX defect images"):
            masks = sorted(mask_root.glob(f"{image.stem}_mask*.png"))
            if not masks:
                without_mask.append(image.name)
                continue
            pixels = read_array(image)
            mask = np.zeros(pixels.shape[:2], dtype=bool)
            for path in masks:
                layer = read_array(path)
                if layer.ndim == 3:
                    layer = layer.max(axis=2)
                if layer.shape != mask.shape:
                    raise self.layout_error(f"mask {path} is not the size of {image}", src)
                mask |= layer > 0
            fields = image.stem.split("_")
            code = fields[1] if len(fields) > 1 else "unknown"
            defect = DEFECT_CODES.get(code, f"defect_{code}")
            size = pixels.shape[0]
            for index, left in enumerate(tiles(pixels.shape[1], size)):
                tile_mask = mask[:, left : left + size]
                if tile_mask.any():
                    stem = f"{image.stem}_{index:02d}"
                    out.save_image(pixels[:, left : left + size], f"{CATEGORY}/test/{defect}/{stem}.png")
                    out.save_mask(tile_mask.astype(np.uint8), f"{CATEGORY}/ground_truth/{defect}/{stem}_mask.png")
        out.notes["defect_images_without_mask"] = without_mask


def _inner(folder: Path) -> Path:
    """AITEX archives unpack to ``Defect_images/Defect_images``: use the inner folder where there is one."""
    inner = folder / folder.name
    return inner if inner.is_dir() else folder


def is_raw_aitex(root: Path) -> bool:
    return (root / "NODefect_images").is_dir() or (root / "Defect_images").is_dir()


AITEX = prepared_reader(
    "AITEX",
    "aitex",
    category=CATEGORY,
    defects="<defect type>",
    masks="ground_truth/<defect type>/<name>_mask.png",
    about="AITEX (256x256 tiles, 75/25 split of the normal tiles)",
)
SPEC = DatasetSpec(
    "aitex",
    AITEX,
    "AITEX fabric, cut into 256x256 tiles",
    converter=AITEXConverter,
    mvtec_like=True,
    signature=Signature("the raw AITEX download (NODefect_images, Defect_images)", is_raw_aitex),
)

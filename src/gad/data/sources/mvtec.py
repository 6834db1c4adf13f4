"""The MVTec AD folder layout, also used by MPDD, the quickstart data and many converted datasets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gad.data.images import list_images
from gad.data.sources.base import DataLayoutError, SampleSource

MVTEC_LAYOUT = (
    "Expected the MVTec AD layout: ROOT/{category}/train/good/*.png (normal training images), "
    "ROOT/{category}/test/{good,<defect>}/*.png and ROOT/{category}/ground_truth/<defect>/<name>_mask.png."
)


class MVTecLayout(SampleSource):
    """``{category}/train/good``, ``{category}/test/{defect}``, ``{category}/ground_truth/{defect}/*_mask.png``.

    Args:
        root: the dataset folder.
        categories: the categories to use, default all found.
        name: the dataset's name in reports and manifests.
        mask_suffix: what follows an image's stem in its mask's name: ``_mask`` for MVTec AD, MPDD and the
            quickstart data, ``""`` for the MVTec-like conversions of the DictAS release (same stem, ``.png``).
    """

    default_name = "mvtec"
    layout_help = MVTEC_LAYOUT

    def __init__(
        self, root: str, categories: list[str] | None = None, name: str | None = None, mask_suffix: str = "_mask"
    ) -> None:
        super().__init__(root, categories, name)
        self.mask_suffix = mask_suffix

    @property
    def has_masks(self) -> bool:
        return True

    def read(self) -> pd.DataFrame:
        folders = sorted(p.name for p in self.root.iterdir() if (p / "train").is_dir() or (p / "test").is_dir())
        self.check_categories(folders)
        wanted = self.categories or folders
        rows: list[dict] = []
        for category in wanted:
            rows += self._read_category(self.root / category)
        return pd.DataFrame(rows, columns=["path", "category", "split", "label", "defect", "mask_path"])

    def _read_category(self, folder: Path) -> list[dict]:
        category = folder.name
        train, test = folder / "train" / "good", folder / "test"
        for needed in (train, test):
            if not needed.is_dir():
                raise DataLayoutError(f"{self.name}: missing folder {needed}. {MVTEC_LAYOUT}")
        rows = [_row(p, category, "train", "good", None) for p in list_images(train)]
        if not rows:
            raise DataLayoutError(f"{self.name}: no normal training image in {train}. {MVTEC_LAYOUT}")
        for defect_dir in sorted(p for p in test.iterdir() if p.is_dir()):
            defect = defect_dir.name
            for image in list_images(defect_dir):
                mask = None if defect == "good" else self._mask_of(folder, defect, image)
                rows.append(_row(image, category, "test", defect, mask))
        return rows

    def _mask_of(self, folder: Path, defect: str, image: Path) -> Path:
        mask = folder / "ground_truth" / defect / f"{image.stem}{self.mask_suffix}.png"
        if not mask.is_file():
            raise DataLayoutError(f"{self.name}: anomalous image {image} has no mask; expected {mask}. {MVTEC_LAYOUT}")
        return mask


def _row(path: Path, category: str, split: str, defect: str, mask: Path | None) -> dict:
    return {
        "path": str(path),
        "category": category,
        "split": split,
        "label": int(defect != "good"),
        "defect": defect,
        "mask_path": None if mask is None else str(mask),
    }

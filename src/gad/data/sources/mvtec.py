"""The MVTec AD folder layout, also used by MPDD, the quickstart data and many converted datasets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gad.data.images import list_images
from gad.data.sources.base import DataLayoutError, SampleSource, first_existing, mask_candidates, sample_row
from gad.data.sources.layouts import any_of, subdirs
from gad.data.sources.spec import DatasetSpec, Signature

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
            quickstart data, ``""`` for the MVTec-like conversions of the DictAS release (same stem). Masks are
            looked up by stem with any image extension (``.png`` first).
    """

    default_name = "mvtec"
    layout_help = MVTEC_LAYOUT
    with_masks = True
    """Whether anomalous test images must have masks (False for the image-level datasets such as ELPV)."""

    def __init__(
        self, root: str, categories: list[str] | None = None, name: str | None = None, mask_suffix: str = "_mask"
    ) -> None:
        super().__init__(root, categories, name)
        self.mask_suffix = mask_suffix

    @property
    def has_masks(self) -> bool:
        return self.with_masks

    def read(self) -> pd.DataFrame:
        folders = sorted(p.name for p in self.root.iterdir() if (p / "train").is_dir() or (p / "test").is_dir())
        self.check_categories(folders)
        wanted = self.categories or folders
        rows: list[dict] = []
        for category in wanted:
            rows += self._read_category(self.root / category)
        return pd.DataFrame(rows, columns=["path", "category", "split", "label", "defect", "mask_path"])

    def train_folder(self, folder: Path) -> Path:
        """Where a category's normal training images are."""
        return folder / "train" / "good"

    def test_image_folder(self, defect_dir: Path) -> Path:
        """Where the images of one test sub-folder are (MVTec 3D-AD: its ``rgb`` sub-folder)."""
        return defect_dir

    def normal_defect(self, defect: str) -> bool:
        return defect == "good"

    def _read_category(self, folder: Path, category: str | None = None) -> list[dict]:
        """The rows of one category folder, named ``category`` (default the folder's name)."""
        category = category or folder.name
        train, test = self.train_folder(folder), folder / "test"
        if not train.is_dir():
            raise self.layout_error(f"missing folder {train}")
        rows = [sample_row(p, category, "train", 0, "good", None) for p in list_images(train)]
        if not rows:
            raise self.layout_error(f"no normal training image in {train}")
        if not test.is_dir():
            self.note_missing_test(category, f"missing folder {test}")
            return rows
        test_rows = []
        for defect_dir in sorted(p for p in test.iterdir() if p.is_dir()):
            defect = defect_dir.name
            normal = self.normal_defect(defect)
            label_name = "good" if normal else defect
            for image in list_images(self.test_image_folder(defect_dir)):
                mask = None if normal or not self.with_masks else self._mask_of(folder, defect, image)
                test_rows.append(sample_row(image, category, "test", int(not normal), label_name, mask))
        if not test_rows:
            raise DataLayoutError(f"{self.name}: no test image in {test}/<defect>/. {self.layout_help}")
        return rows + test_rows

    def mask_candidates(self, folder: Path, defect: str, image: Path) -> list[Path]:
        """Where the mask of an anomalous test image may be, in order of preference."""
        return mask_candidates(folder / "ground_truth" / defect, f"{image.stem}{self.mask_suffix}")

    def _mask_of(self, folder: Path, defect: str, image: Path) -> Path:
        candidates = self.mask_candidates(folder, defect, image)
        mask = first_existing(candidates)
        if mask is None:
            raise DataLayoutError(
                f"{self.name}: anomalous image {image} has no mask; expected {candidates[0]}. {self.layout_help}"
            )
        return mask


MVTEC_AD_CATEGORIES = (
    "bottle",
    "cable",
    "capsule",
    "carpet",
    "grid",
    "hazelnut",
    "leather",
    "metal_nut",
    "pill",
    "screw",
    "tile",
    "toothbrush",
    "transistor",
    "wood",
    "zipper",
)


class MVTecAD(MVTecLayout):
    """MVTec AD as downloaded (15 categories, masks ``ground_truth/<defect>/<name>_mask.png``).

    Also reads the DictAS-converted copy with ``mask_suffix: ""``. InCTRL trains on all of it (normal and
    anomalous images); DictAS targets it.

    Args:
        root: the ``mvtec_anomaly_detection`` folder.
        categories: the categories to use, default all found.
        name: the dataset's name in reports.
        mask_suffix: ``_mask`` (original download) or ``""`` (DictAS conversion).
    """

    default_name = "mvtec"

    def __init__(
        self,
        root: str = "data/mvtec",
        categories: list[str] | None = None,
        name: str | None = None,
        mask_suffix: str = "_mask",
    ) -> None:
        super().__init__(root, categories, name, mask_suffix)


def is_mvtec_like(root: Path) -> bool:
    """Category folders with ``train/good`` (not MVTec 3D-AD's ``train/good/rgb``)."""
    good = [d / "train" / "good" for d in subdirs(root)]
    return any_of(g for g in good if g.is_dir() and not (g / "rgb").is_dir())


SPEC = DatasetSpec(
    "mvtec",
    MVTecAD,
    'MVTec AD (15 categories), as downloaded or DictAS-converted (mask_suffix: "")',
    mvtec_like=True,
    signature=Signature(
        "the MVTec AD layout ({category}/train/good, test/<defect>)",
        is_mvtec_like,
        generic=True,
        read_with="MVTecLayout (or the dataset's own reader)",
    ),
)
LAYOUT_SPEC = DatasetSpec(
    "mvtec_layout", MVTecLayout, "any dataset in the MVTec AD layout", mvtec_like=True, downloaded=False
)

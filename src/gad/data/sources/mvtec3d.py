"""MVTec 3D-AD, RGB images only: ``{category}/{train,test}/<defect>/rgb/*.png`` with masks in ``.../gt/``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gad.data.images import list_images
from gad.data.sources.base import mask_candidates, sample_row
from gad.data.sources.layouts import any_of, subdirs
from gad.data.sources.mvtec import MVTecLayout
from gad.data.sources.spec import DatasetSpec, Signature

MVTEC3D_CATEGORIES = (
    "bagel",
    "cable_gland",
    "carrot",
    "cookie",
    "dowel",
    "foam",
    "peach",
    "potato",
    "rope",
    "tire",
)

MVTEC3D_LAYOUT = (
    "Expected the MVTec 3D-AD layout: ROOT/{category}/train/good/rgb/*.png, ROOT/{category}/validation/good/rgb/*.png, "
    "ROOT/{category}/test/{good,<defect>}/rgb/*.png with masks ROOT/{category}/test/<defect>/gt/<same name>.png "
    "(the xyz/ point clouds are not used)."
)


class MVTec3D(MVTecLayout):
    """MVTec 3D-AD read as a 2D dataset, as DictAS does: RGB images and ``gt`` masks only.

    Args:
        root: the ``mvtec_3d_anomaly_detection`` folder.
        categories: the categories to use, default all found.
        name: the dataset's name in reports.
        include_validation: add ``validation/good`` to the normal training pool (DictAS does not: 2,656 images).
    """

    default_name = "mvtec3d"
    layout_help = MVTEC3D_LAYOUT

    def __init__(
        self,
        root: str = "data/mvtec3d",
        categories: list[str] | None = None,
        name: str | None = None,
        include_validation: bool = False,
    ) -> None:
        super().__init__(root, categories, name, mask_suffix="")
        self.include_validation = include_validation

    def train_folder(self, folder: Path) -> Path:
        return folder / "train" / "good" / "rgb"

    def test_image_folder(self, defect_dir: Path) -> Path:
        return defect_dir / "rgb"

    def mask_candidates(self, folder: Path, defect: str, image: Path) -> list[Path]:
        return mask_candidates(folder / "test" / defect / "gt", image.stem)

    def read(self) -> pd.DataFrame:
        table = super().read()
        if not self.include_validation:
            return table
        extra = [
            sample_row(p, category, "train", 0, "good", None)
            for category in sorted(table["category"].unique())
            if (self.root / category / "validation" / "good" / "rgb").is_dir()
            for p in list_images(self.root / category / "validation" / "good" / "rgb")
        ]
        return pd.concat([table, pd.DataFrame(extra, columns=table.columns)], ignore_index=True)


def is_mvtec3d(root: Path) -> bool:
    """Category folders with ``train/good/rgb`` or ``test/<defect>/rgb``."""
    return any_of(
        d for d in subdirs(root) if (d / "train" / "good" / "rgb").is_dir() or any_of((d / "test").glob("*/rgb"))
    )


SPEC = DatasetSpec(
    "mvtec3d",
    MVTec3D,
    "MVTec 3D-AD (10 categories), RGB images and gt masks only",
    signature=Signature("MVTec 3D-AD ({category}/train/good/rgb)", is_mvtec3d),
)

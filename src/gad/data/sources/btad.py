"""BTAD (beanTech): ``{01,02,03}/train/ok``, ``test/{ok,ko}``, ``ground_truth/ko``, mixed ``.bmp``/``.png``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gad.data.sources.base import mask_candidates
from gad.data.sources.layouts import any_of, subdirs
from gad.data.sources.mvtec import MVTecLayout
from gad.data.sources.spec import DatasetSpec, Signature

BTAD_NAMES = {"01": "metal1", "02": "wood", "03": "metal2"}

BTAD_LAYOUT = (
    "Expected the BTAD layout (BTech_Dataset_transformed): ROOT/{01,02,03}/train/ok/*, ROOT/{01,02,03}/test/{ok,ko}/* "
    "and masks ROOT/{01,02,03}/ground_truth/ko/<stem>.png (01, 02) or <same name> (03); images are .bmp for 01 "
    "and 03, .png for 02."
)


class BTAD(MVTecLayout):
    """BTAD: ``ok`` is normal, ``ko`` anomalous; a mask has its image's stem, as ``.png`` or ``.bmp``.

    Args:
        root: the ``BTech_Dataset_transformed`` folder.
        categories: the categories to use (``metal1``, ``wood``, ``metal2``, or ``01``... with ``rename: false``).
        name: the dataset's name in reports.
        rename: name the categories as DictAS reports them (01 → metal1, 02 → wood, 03 → metal2).
    """

    default_name = "btad"
    layout_help = BTAD_LAYOUT

    def __init__(
        self,
        root: str = "data/btad",
        categories: list[str] | None = None,
        name: str | None = None,
        rename: bool = True,
    ) -> None:
        super().__init__(root, categories, name, mask_suffix="")
        self.rename = rename

    def display(self, folder: str) -> str:
        return BTAD_NAMES.get(folder, folder) if self.rename else folder

    def train_folder(self, folder: Path) -> Path:
        return folder / "train" / "ok"

    def normal_defect(self, defect: str) -> bool:
        return defect in ("ok", "good")

    def mask_candidates(self, folder: Path, defect: str, image: Path) -> list[Path]:
        return mask_candidates(folder / "ground_truth" / defect, image.stem)

    def read(self) -> pd.DataFrame:
        folders = sorted(p.name for p in self.root.iterdir() if (p / "train").is_dir() or (p / "test").is_dir())
        by_display = {self.display(f): f for f in folders}
        self.check_categories(sorted(by_display))
        rows: list[dict] = []
        for category in self.categories or sorted(by_display):
            rows += self._read_category(self.root / by_display[category], category)
        return pd.DataFrame(rows, columns=["path", "category", "split", "label", "defect", "mask_path"])


def is_btad(root: Path) -> bool:
    """Folders with ``train/ok``."""
    return any_of(d for d in subdirs(root) if (d / "train" / "ok").is_dir())


SPEC = DatasetSpec(
    "btad",
    BTAD,
    "BTAD (01 metal1, 02 wood, 03 metal2), ok/ko folders",
    mvtec_like=True,
    signature=Signature("BTAD ({01,02,03}/train/ok, test/ko)", is_btad),
)

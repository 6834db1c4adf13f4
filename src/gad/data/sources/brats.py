"""BraTS (brain MRI, FLAIR slices) in the layout of the DictAS curated release."""

from __future__ import annotations

from pathlib import Path

from gad.data.sources.base import mask_candidates
from gad.data.sources.mvtec import MVTecLayout
from gad.data.sources.spec import DatasetSpec

BRATS_LAYOUT = (
    "Expected the BraTS layout of the DictAS release: ROOT/brain/train/good/*flair*.png, "
    "ROOT/brain/test/{good,<defect>}/*flair*.png and masks ROOT/brain/ground_truth/<defect>/<name with 'flair' "
    "replaced by 'seg'>."
)


class BraTS(MVTecLayout):
    """BraTS: one category (``brain``), MVTec layout; a mask's name is its image's with ``flair`` → ``seg``.

    Args:
        root: the ``BrasTS`` folder (holding ``brain``).
        categories: default all found (``brain``).
        name: the dataset's name in reports.
    """

    default_name = "brats"
    layout_help = BRATS_LAYOUT

    def __init__(self, root: str = "data/brats", categories: list[str] | None = None, name: str | None = None) -> None:
        super().__init__(root, categories, name, mask_suffix="")

    def mask_candidates(self, folder: Path, defect: str, image: Path) -> list[Path]:
        masks = folder / "ground_truth" / defect
        return mask_candidates(masks, image.stem.replace("flair", "seg")) + mask_candidates(masks, image.stem)


SPEC = DatasetSpec("brats", BraTS, "BraTS brain MRI FLAIR slices (DictAS release), MVTec AD layout", mvtec_like=True)

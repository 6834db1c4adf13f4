"""MPDD (metal parts): the MVTec AD layout with six categories."""

from __future__ import annotations

from gad.data.sources.mvtec import MVTecLayout
from gad.data.sources.spec import DatasetSpec

MPDD_CATEGORIES = ("bracket_black", "bracket_brown", "bracket_white", "connector", "metal_plate", "tubes")


class MPDD(MVTecLayout):
    """MPDD as downloaded from github.com/stepanje/MPDD (MVTec AD layout, masks ``<name>_mask.png``).

    Args:
        root: the folder holding ``bracket_black`` ... ``tubes``.
        categories: the categories to use, default all found.
        name: the dataset's name in reports.
        mask_suffix: ``_mask`` (download) or ``""`` (DictAS conversion).
    """

    default_name = "mpdd"

    def __init__(
        self,
        root: str = "data/mpdd",
        categories: list[str] | None = None,
        name: str | None = None,
        mask_suffix: str = "_mask",
    ) -> None:
        super().__init__(root, categories, name, mask_suffix)


SPEC = DatasetSpec("mpdd", MPDD, "MPDD (6 categories of metal parts), MVTec AD layout", mvtec_like=True)

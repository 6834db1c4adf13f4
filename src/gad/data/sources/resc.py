"""RESC (retinal OCT) in the layout of the DictAS curated release."""

from __future__ import annotations

from gad.data.sources.mvtec import MVTecLayout
from gad.data.sources.spec import DatasetSpec

RESC_LAYOUT = (
    "Expected the RESC layout of the DictAS release: ROOT/retina/train/good/*.png, "
    "ROOT/retina/test/{good,<defect>}/*.png "
    "and masks ROOT/retina/ground_truth/<defect>/<same name> (any non-zero pixel is anomalous)."
)


class RESC(MVTecLayout):
    """RESC: one category (``retina``), MVTec layout, masks named like their images.

    Args:
        root: the ``RESC`` folder (holding ``retina``).
        categories: default all found (``retina``).
        name: the dataset's name in reports.
        mask_suffix: ``""``: a mask has its image's name.
    """

    default_name = "resc"
    layout_help = RESC_LAYOUT

    def __init__(
        self,
        root: str = "data/resc",
        categories: list[str] | None = None,
        name: str | None = None,
        mask_suffix: str = "",
    ) -> None:
        super().__init__(root, categories, name, mask_suffix)


SPEC = DatasetSpec("resc", RESC, "RESC retinal OCT (DictAS release), MVTec AD layout", mvtec_like=True)

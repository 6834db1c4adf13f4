"""The generated quickstart dataset: MVTec layout, created on first use."""

from __future__ import annotations

from gad.data.quickstart import ensure_quickstart
from gad.data.sources.mvtec import MVTecLayout
from gad.data.sources.spec import DatasetSpec


class QuickstartData(MVTecLayout):
    """Small dataset generated from images shipped in scikit-image (see ``gad.data.quickstart``).

    Args:
        root: where the data is (or will be) written.
        categories: the categories to use (``AUXILIARY_CATEGORIES`` or ``TARGET_CATEGORIES`` of the generator).
        seed: generator seed; the same seed gives byte-identical files.
        image_size: side of the generated images.
    """

    default_name = "quickstart"

    def __init__(
        self,
        root: str = "data/quickstart",
        categories: list[str] | None = None,
        name: str | None = None,
        seed: int = 0,
        image_size: int = 128,
    ) -> None:
        super().__init__(root, categories, name, mask_suffix="_mask")
        self.seed = seed
        self.image_size = image_size

    def prepare(self) -> None:
        ensure_quickstart(self.root, seed=self.seed, image_size=self.image_size)


SPEC = DatasetSpec(
    "quickstart", QuickstartData, "generated quickstart data (gad data quickstart)", mvtec_like=True, downloaded=False
)

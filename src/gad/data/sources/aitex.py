"""AITEX (256x256 tiles, 75/25 split of the normal tiles), as written by `gad data prepare aitex`."""

from __future__ import annotations

from gad.data.sources.prepared import PreparedLayout


class AITEX(PreparedLayout):
    """AITEX (256x256 tiles, 75/25 split of the normal tiles).

    One category, ``aitex``; masks: ground_truth/<defect type>/<name>_mask.png.

    Args:
        root: the folder written by ``gad data prepare aitex --src RAW --dst ROOT``.
        categories: default all found (``aitex``).
        name: the dataset's name in reports.
    """

    default_name = "aitex"
    category = "aitex"
    with_masks = True

    def __init__(
        self, root: str = "data/aitex", categories: list[str] | None = None, name: str | None = None
    ) -> None:
        super().__init__(root, categories, name)


AITEX.layout_help = AITEX.prepared_help("<defect type>") + " (ground_truth/<defect type>/<name>_mask.png)."

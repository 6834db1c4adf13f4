"""HeadCT (75 training normals, 25 test normals, 100 hemorrhages), as written by `gad data prepare headct`."""

from __future__ import annotations

from gad.data.sources.prepared import PreparedLayout


class HeadCT(PreparedLayout):
    """HeadCT (75 training normals, 25 test normals, 100 hemorrhages).

    One category, ``headct``; masks: no masks.

    Args:
        root: the folder written by ``gad data prepare headct --src RAW --dst ROOT``.
        categories: default all found (``headct``).
        name: the dataset's name in reports.
    """

    default_name = "headct"
    category = "headct"
    with_masks = False

    def __init__(
        self, root: str = "data/headct", categories: list[str] | None = None, name: str | None = None
    ) -> None:
        super().__init__(root, categories, name)


HeadCT.layout_help = HeadCT.prepared_help("defect") + " (no masks)."

"""ELPV (solar cells; probability-0 cells normal, probability-1 anomalous), as written by `gad data prepare elpv`."""

from __future__ import annotations

from gad.data.sources.prepared import PreparedLayout


class ELPV(PreparedLayout):
    """ELPV (solar cells; probability-0 cells normal, probability-1 anomalous).

    One category, ``elpv``; masks: no masks.

    Args:
        root: the folder written by ``gad data prepare elpv --src RAW --dst ROOT``.
        categories: default all found (``elpv``).
        name: the dataset's name in reports.
    """

    default_name = "elpv"
    category = "elpv"
    with_masks = False

    def __init__(
        self, root: str = "data/elpv", categories: list[str] | None = None, name: str | None = None
    ) -> None:
        super().__init__(root, categories, name)


ELPV.layout_help = ELPV.prepared_help("mono,poly") + " (no masks)."

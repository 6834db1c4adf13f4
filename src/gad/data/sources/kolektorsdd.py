"""KolektorSDD (3 strips per image, 75/25 split of the normal strips), as written by `gad data prepare kolektorsdd`."""

from __future__ import annotations

from gad.data.sources.prepared import PreparedLayout


class KolektorSDD(PreparedLayout):
    """KolektorSDD (3 strips per image, 75/25 split of the normal strips).

    One category, ``sdd``; masks: ground_truth/defect/<name>_mask.png.

    Args:
        root: the folder written by ``gad data prepare kolektorsdd --src RAW --dst ROOT``.
        categories: default all found (``sdd``).
        name: the dataset's name in reports.
    """

    default_name = "kolektorsdd"
    category = "sdd"
    with_masks = True

    def __init__(
        self, root: str = "data/kolektorsdd", categories: list[str] | None = None, name: str | None = None
    ) -> None:
        super().__init__(root, categories, name)


KolektorSDD.layout_help = KolektorSDD.prepared_help("defect") + " (ground_truth/defect/<name>_mask.png)."

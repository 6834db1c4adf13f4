"""BrainMRI (no/ split 75/25, yes/ anomalous), as written by `gad data prepare brainmri`."""

from __future__ import annotations

from gad.data.sources.prepared import PreparedLayout


class BrainMRI(PreparedLayout):
    """BrainMRI (no/ split 75/25, yes/ anomalous).

    One category, ``brainmri``; masks: no masks.

    Args:
        root: the folder written by ``gad data prepare brainmri --src RAW --dst ROOT``.
        categories: default all found (``brainmri``).
        name: the dataset's name in reports.
    """

    default_name = "brainmri"
    category = "brainmri"
    with_masks = False

    def __init__(
        self, root: str = "data/brainmri", categories: list[str] | None = None, name: str | None = None
    ) -> None:
        super().__init__(root, categories, name)


BrainMRI.layout_help = BrainMRI.prepared_help("defect") + " (no masks)."

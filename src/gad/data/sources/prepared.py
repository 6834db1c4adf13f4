"""Readers of datasets that ``gad data prepare`` converts to the MVTec layout first.

They differ only in constants (name, category, defect folders, masks), so each is made from them by
``prepared_reader`` in its converter's file, not written out as a class.
"""

from __future__ import annotations

import pandas as pd

from gad.data.sources.layouts import detect_layout
from gad.data.sources.mvtec import MVTecLayout


class PreparedLayout(MVTecLayout):
    """The MVTec layout written by ``gad data prepare <dataset>`` (masks ``<name>_mask.png`` where there are any).

    Given the raw download instead, the error says which command converts it.
    """

    category = "dataset"

    def __init__(self, root: str | None = None, categories: list[str] | None = None, name: str | None = None) -> None:
        super().__init__(root or f"data/{self.default_name}", categories, name, mask_suffix="_mask")

    def read(self) -> pd.DataFrame:
        found = detect_layout(self.root)
        if found is not None and found[0] == self.default_name:
            raise self.layout_error(
                f"{self.root} is the raw download; convert it first with `gad data prepare {self.default_name} "
                f"--src {self.root} --dst <new folder>` and read that folder"
            )
        return super().read()


def prepared_reader(
    class_name: str, name: str, category: str, defects: str, masks: str | None, about: str
) -> type[PreparedLayout]:
    """The reader of what ``gad data prepare NAME`` writes: ``ROOT/<category>/train/good``,
    ``ROOT/<category>/test/{good,<defects>}`` and, where ``masks`` says where they are, masks.

    It is public as ``gad.data.sources.<class_name>`` (configs name it by that class path).
    """
    masks_text = masks or "no masks"
    doc = (
        f"{about}.\n\n    One category, ``{category}``; masks: {masks_text}.\n\n    Args:\n"
        f"        root: the folder written by ``gad data prepare {name} --src RAW --dst ROOT`` (default "
        f"``data/{name}``).\n        categories: default all found (``{category}``).\n"
        "        name: the dataset's name in reports.\n"
    )
    layout_help = (
        f"Expected the output of `gad data prepare {name} --src RAW --dst ROOT`: ROOT/{category}/train/good/*, "
        f"ROOT/{category}/test/{{good,{defects}}}/* ({masks_text})."
    )
    attributes = {
        "__doc__": doc,
        "__module__": "gad.data.sources",
        "default_name": name,
        "category": category,
        "with_masks": masks is not None,
        "layout_help": layout_help,
    }
    return type(class_name, (PreparedLayout,), attributes)

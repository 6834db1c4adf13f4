"""Readers of datasets that ``gad data prepare`` converts to the MVTec layout first."""

from __future__ import annotations

import pandas as pd

from gad.data.sources.layouts import detect_layout
from gad.data.sources.mvtec import MVTecLayout


class PreparedLayout(MVTecLayout):
    """The MVTec layout written by ``gad data prepare <dataset>`` (masks ``<name>_mask.png`` where there are any).

    Given the raw download instead, the error says which command converts it.
    """

    category = "dataset"

    def __init__(self, root: str, categories: list[str] | None = None, name: str | None = None) -> None:
        super().__init__(root, categories, name, mask_suffix="_mask")

    @classmethod
    def prepared_help(cls, what: str) -> str:
        return (
            f"Expected the output of `gad data prepare {cls.default_name} --src RAW --dst ROOT`: "
            f"ROOT/{cls.category}/train/good/*, ROOT/{cls.category}/test/{{good,{what}}}/*"
        )

    def read(self) -> pd.DataFrame:
        found = detect_layout(self.root)
        if found is not None and found[0] == self.default_name:
            raise self.layout_error(
                f"{self.root} is the raw download; convert it first with `gad data prepare {self.default_name} "
                f"--src {self.root} --dst <new folder>` and read that folder"
            )
        return super().read()

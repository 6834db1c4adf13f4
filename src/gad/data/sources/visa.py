"""VisA as downloaded (``VisA_20220922.tar``), split by ``split_csv/1cls.csv``."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from gad.data.sources.base import DataLayoutError, SampleSource, sample_row
from gad.data.sources.layouts import any_of, subdirs
from gad.data.sources.spec import DatasetSpec, Signature

VISA_CATEGORIES = (
    "candle",
    "capsules",
    "cashew",
    "chewinggum",
    "fryum",
    "macaroni1",
    "macaroni2",
    "pcb1",
    "pcb2",
    "pcb3",
    "pcb4",
    "pipe_fryum",
)

VISA_COLUMNS = ("object", "split", "label", "image", "mask")

VISA_LAYOUT = (
    "Expected the VisA download: ROOT/split_csv/1cls.csv (columns object,split,label,image,mask with paths relative "
    "to ROOT, label normal/anomaly), ROOT/{category}/Data/Images/{Normal,Anomaly}/*.JPG and "
    "ROOT/{category}/Data/Masks/Anomaly/*.png."
)


class VisA(SampleSource):
    """VisA with the one-class split of its ``1cls.csv``: ``train`` rows are the normal training pool (8,659),
    ``test`` rows the test set (962 normal, 1,200 anomalous); masks: any non-zero pixel is anomalous.

    Unlike InCTRL's ``gen_train_json.py`` (which skips ``.JPG`` training files), every listed image is used.

    Args:
        root: the folder holding ``split_csv`` and the twelve category folders.
        categories: the categories to use, default all in the CSV.
        name: the dataset's name in reports.
        split_csv: the split file, relative to ``root`` (or absolute).
    """

    default_name = "visa"
    layout_help = VISA_LAYOUT

    def __init__(
        self,
        root: str = "data/visa",
        categories: list[str] | None = None,
        name: str | None = None,
        split_csv: str = "split_csv/1cls.csv",
    ) -> None:
        super().__init__(root, categories, name)
        self.split_csv = split_csv

    @property
    def has_masks(self) -> bool:
        return True

    def read(self) -> pd.DataFrame:
        table = self.root / self.split_csv
        if not table.is_file():
            raise self.layout_error(f"split file {table} does not exist")
        with table.open(newline="") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or []]
            if not set(VISA_COLUMNS) <= set(columns):
                raise DataLayoutError(
                    f"{self.name}: {table} has columns {columns}, not {list(VISA_COLUMNS)}. {VISA_LAYOUT}"
                )
            records = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
        self.check_categories(sorted({r["object"] for r in records}))
        wanted = set(self.categories or [r["object"] for r in records])
        rows = []
        for number, record in enumerate(records, start=2):
            if record["object"] not in wanted:
                continue
            split = record["split"].lower()
            if split not in ("train", "test"):
                raise DataLayoutError(
                    f"{self.name}: {table} line {number}: split {record['split']!r} is not train/test."
                )
            anomalous = record["label"].lower() == "anomaly"
            if split == "train" and anomalous:
                raise DataLayoutError(
                    f"{self.name}: {table} line {number}: an anomalous training image; 1cls.csv has none "
                    "(the 2cls splits are not supported)."
                )
            image = self._existing(record["image"], table, number)
            mask = None
            if anomalous:
                if not record["mask"]:
                    raise DataLayoutError(f"{self.name}: anomalous image {image} has no mask in {table} line {number}.")
                mask = self._existing(record["mask"], table, number)
            defect = "anomaly" if anomalous else "good"
            rows.append(sample_row(image, record["object"], split, int(anomalous), defect, mask))
        return pd.DataFrame(rows, columns=["path", "category", "split", "label", "defect", "mask_path"])

    def _existing(self, relative: str, table: Path, number: int) -> Path:
        path = self.root / relative
        if not path.is_file():
            raise DataLayoutError(
                f"{self.name}: {path} (listed in {table} line {number}) does not exist. {VISA_LAYOUT}"
            )
        return path


def is_visa(root: Path) -> bool:
    """The VisA download: its split file, or category folders with ``Data/Images``."""
    if (root / "split_csv" / "1cls.csv").is_file():
        return True
    return any_of(d for d in subdirs(root) if (d / "Data" / "Images").is_dir())


SPEC = DatasetSpec(
    "visa",
    VisA,
    "VisA (12 categories), one-class split of split_csv/1cls.csv",
    signature=Signature("the VisA download (split_csv/1cls.csv, {category}/Data/Images)", is_visa),
)

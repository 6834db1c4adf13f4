"""The ``meta.json`` format of the CLIP anomaly-detection repositories (APRIL-GAN, AnomalyCLIP, AdaCLIP, DictAS)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd

from gad.data.sources.base import DataLayoutError, SampleSource, sample_row
from gad.data.sources.spec import DatasetSpec, Signature

META_LAYOUT = (
    'Expected ROOT/meta.json: {"train": {<category>: [record, ...]}, "test": {<category>: [record, ...]}} with records '
    '{"img_path": <relative to ROOT>, "mask_path": <relative, "" for normal images>, "cls_name": <category>, '
    '"specie_name": "good" or <defect>, "anomaly": 0 or 1} (DictAS adds "dataset_name").'
)

RECORD_KEYS = ("img_path", "mask_path", "cls_name", "specie_name", "anomaly")


class MetaJson(SampleSource):
    """A dataset described by a ``meta.json`` (e.g. DictAS's ``meta_visa.json``); images are checked to exist.

    Anomalous records under ``train`` are left out with a warning (gad's training pool is normal images only).
    A category without ``test`` records (or a file without a ``test`` section) is normal images only: usable as an
    auxiliary (training) set.
    Masks are paired with images by the record, never by sorted position.

    Args:
        root: the folder the paths in the file are relative to.
        categories: the categories to use, default all in the file.
        name: the dataset's name in reports.
        meta: the file, relative to ``root`` (or absolute).
    """

    default_name = "metajson"
    layout_help = META_LAYOUT

    def __init__(
        self,
        root: str,
        categories: list[str] | None = None,
        name: str | None = None,
        meta: str = "meta.json",
    ) -> None:
        super().__init__(root, categories, name)
        self.meta = meta
        self._has_masks: bool | None = None

    @property
    def has_masks(self) -> bool:
        if self._has_masks is None:
            samples = self.samples(need_test=False)
            self._has_masks = bool(samples.loc[samples["label"] == 1, "mask_path"].notna().any())
        return self._has_masks

    def read(self) -> pd.DataFrame:
        path = self.root / self.meta
        if not path.is_file():
            raise self.layout_error(f"meta file {path} does not exist")
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise DataLayoutError(f"{self.name}: cannot read {path}: {err}. {META_LAYOUT}") from err
        if (
            not isinstance(meta, dict)
            or not isinstance(meta.get("train", {}), dict)
            or not isinstance(meta.get("test", {}), dict)
        ):
            raise DataLayoutError(f'{self.name}: {path} is not a mapping of "train"/"test" sections. {META_LAYOUT}')
        found = sorted(set(meta.get("train", {})) | set(meta.get("test", {})))
        self.check_categories(found)
        wanted = set(self.categories or found)
        for category in sorted(wanted):
            if not meta.get("test", {}).get(category):
                self.note_missing_test(category, f'{path} has no "test" records of {category}')
        rows, dropped = [], 0
        for split in ("train", "test"):
            for category, records in sorted(meta.get(split, {}).items()):
                if category not in wanted:
                    continue
                for record in records:
                    missing = [k for k in RECORD_KEYS if k not in record]
                    if missing:
                        raise DataLayoutError(
                            f"{self.name}: a record of {path} lacks {missing}: {record}. {META_LAYOUT}"
                        )
                    anomalous = int(record["anomaly"]) == 1
                    if split == "train" and anomalous:
                        dropped += 1
                        continue
                    image = self.root / record["img_path"]
                    if not image.is_file():
                        raise DataLayoutError(f"{self.name}: {image} (listed in {path}) does not exist.")
                    mask = None
                    if anomalous and record["mask_path"]:
                        mask = self.root / record["mask_path"]
                        if not mask.is_file():
                            raise DataLayoutError(
                                f"{self.name}: mask {mask} of {image} (listed in {path}) does not exist."
                            )
                    defect = record["specie_name"] if anomalous else "good"
                    rows.append(sample_row(image, category, split, int(anomalous), defect, mask))
        if dropped:
            warnings.warn(f"{self.name}: left out {dropped} anomalous training records of {path}", stacklevel=2)
        table = pd.DataFrame(rows, columns=["path", "category", "split", "label", "defect", "mask_path"])
        with_mask = table.loc[table["label"] == 1, "mask_path"].notna()
        if with_mask.any() and not with_mask.all():
            first = table.loc[(table["label"] == 1) & table["mask_path"].isna(), "path"].iloc[0]
            raise DataLayoutError(f"{self.name}: anomalous image {first} has no mask_path in {path}, others have.")
        return table


def write_meta_json(source: SampleSource, path: str | Path, samples: pd.DataFrame | None = None) -> Path:
    """Export a source's samples (or ``samples``, rows of its table, e.g. a re-split) as a ``meta.json`` with paths
    relative to its root (for other repositories, or another split of the same images)."""
    samples = source.samples(need_test=False) if samples is None else samples
    root = source.root.resolve()
    meta: dict[str, dict[str, list[dict]]] = {"train": {}, "test": {}}
    for row in samples.itertuples(index=False):
        record = {
            "img_path": Path(row.path).resolve().relative_to(root).as_posix(),
            "mask_path": (
                Path(row.mask_path).resolve().relative_to(root).as_posix() if isinstance(row.mask_path, str) else ""
            ),
            "cls_name": row.category,
            "specie_name": row.defect,
            "anomaly": int(row.label),
        }
        meta[row.split].setdefault(row.category, []).append(record)
    path = Path(path)
    path.write_text(json.dumps(meta, indent=1) + "\n")
    return path


def is_meta_json(root: Path) -> bool:
    return any(True for _ in root.glob("meta*.json"))


SPEC = DatasetSpec(
    "metajson",
    MetaJson,
    "a meta.json dataset (APRIL-GAN, AnomalyCLIP, AdaCLIP, DictAS)",
    signature=Signature("a meta.json dataset", is_meta_json, generic=True),
)

"""HeadCT (Kaggle head-ct-hemorrhage): ``labels.csv`` (id, hemorrhage) and ``head_ct/head_ct/{id:03d}.png``."""

from __future__ import annotations

import csv
from pathlib import Path

from gad.data.converters.base import ConversionError, Converter, Output
from gad.data.sources.prepared import prepared_reader
from gad.data.sources.spec import DatasetSpec, Signature
from gad.data.sources.splits import split_normals

CATEGORY = "headct"


class HeadCTConverter(Converter):
    """Rule (InCTRL ``convert_HeadCT.py``): hemorrhage 0 → normal, split into ``train/good`` and ``test/good``
    (75 and 25 of the 100); hemorrhage 1 → ``test/defect``. Files are copied byte for byte."""

    name = "headct"
    raw_layout = "SRC/labels.csv (columns `id, hemorrhage`) and SRC/head_ct/head_ct/000.png ... 199.png"

    def convert(self, src: Path, out: Output) -> None:
        labels = src / "labels.csv"
        if not labels.is_file():
            raise self.layout_error(f"missing {labels}", src)
        images = next((d for d in (src / "head_ct" / "head_ct", src / "head_ct") if d.is_dir()), None)
        if images is None:
            raise self.layout_error(f"missing folder {src / 'head_ct' / 'head_ct'}", src)
        with labels.open(newline="") as handle:
            rows = [{k.strip(): v.strip() for k, v in row.items() if k} for row in csv.DictReader(handle)]
        if not rows or not {"id", "hemorrhage"} <= set(rows[0]):
            raise self.layout_error(f"{labels} needs the columns id, hemorrhage", src)
        normal: list[Path] = []
        anomalous: list[Path] = []
        for number, row in enumerate(rows, start=2):
            if not row["id"].isdigit() or row["hemorrhage"] not in ("0", "1"):
                raise ConversionError(
                    f"{self.name}: {labels} line {number} has id {row['id']!r} and hemorrhage {row['hemorrhage']!r}, "
                    "expected a non-negative integer id and hemorrhage 0 or 1."
                )
            image = images / f"{int(row['id']):03d}.png"
            if not image.is_file():
                raise self.layout_error(f"{labels} lists id {row['id']} but {image} does not exist", src)
            (anomalous if row["hemorrhage"] == "1" else normal).append(image)
        train, test = split_normals(sorted(normal), self.test_fraction, self.seed)
        jobs = [(p, f"{CATEGORY}/train/good/{p.name}") for p in train]
        jobs += [(p, f"{CATEGORY}/test/good/{p.name}") for p in test]
        jobs += [(p, f"{CATEGORY}/test/defect/{p.name}") for p in sorted(anomalous)]
        for image, relative in self.bar(jobs, total=len(jobs)):
            out.copy(image, relative)


def is_raw_headct(root: Path) -> bool:
    return (root / "labels.csv").is_file() and (root / "head_ct").is_dir()


HeadCT = prepared_reader(
    "HeadCT",
    "headct",
    category=CATEGORY,
    defects="defect",
    masks=None,
    about="HeadCT (75 training normals, 25 test normals, 100 hemorrhages)",
)
SPEC = DatasetSpec(
    "headct",
    HeadCT,
    "HeadCT hemorrhage scans (Kaggle), no masks",
    converter=HeadCTConverter,
    mvtec_like=True,
    signature=Signature("the raw HeadCT download (labels.csv, head_ct/)", is_raw_headct),
)

"""ELPV (solar cells): probability-0 cells are normal (split 75/25), probability-1 cells anomalous by cell type."""

from __future__ import annotations

from pathlib import Path

from gad.data.converters.base import ConversionError, Converter, Output
from gad.data.converters.common import find_one
from gad.data.sources.layouts import any_of, shallow
from gad.data.sources.prepared import prepared_reader
from gad.data.sources.spec import DatasetSpec, Signature
from gad.data.sources.splits import split_normals

CATEGORY = "elpv"
CELL_TYPES = ("mono", "poly")


class ELPVConverter(Converter):
    """``labels.csv`` (whitespace separated: image path, defect probability, ``mono``/``poly``) and ``images/``.

    Rule (InCTRL ``convert_elpv.py``): probability 0 → normal, split into ``train/good`` and ``test/good``;
    probability 1 → ``test/mono`` or ``test/poly``; probabilities 1/3 and 2/3 are left out.
    """

    name = "elpv"
    raw_layout = (
        "SRC/labels.csv (lines `images/cell0001.png  1.0  mono`) and SRC/images/cell*.png, as in "
        "github.com/zae-bayern/elpv-dataset (src/elpv_dataset/data/ in the repository: point --src there or above)"
    )

    def convert(self, src: Path, out: Output) -> None:
        labels = find_one(src, ["labels.csv"])
        if labels is None:
            raise self.layout_error(f"no labels.csv in {src}", src)
        normal, anomalous, left_out = [], [], 0
        for number, line in enumerate(labels.read_text().splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3:
                raise self.layout_error(f"{labels} line {number} has {len(fields)} fields, not 3: {line!r}", src)
            relative, probability, kind = fields
            image = self.named_file(src, labels.parent, relative, f"{labels} line {number}")
            if not image.is_file():
                raise self.layout_error(f"{labels} line {number} names {image}, which does not exist", src)
            if kind not in CELL_TYPES:
                raise ConversionError(
                    f"{self.name}: {labels} line {number} has cell type {kind!r}, expected one "
                    f"of {', '.join(CELL_TYPES)}."
                )
            try:
                value = float(probability)
            except ValueError:
                raise ConversionError(
                    f"{self.name}: {labels} line {number} has defect probability {probability!r}, expected a number."
                ) from None
            if value == 0.0:
                normal.append(image)
            elif abs(value - 1.0) < 1e-6:
                anomalous.append((image, kind))
            else:
                left_out += 1
        train, test = split_normals(sorted(normal), self.test_fraction, self.seed)
        out.notes["left_out_uncertain"] = left_out
        jobs = [(p, f"{CATEGORY}/train/good/{p.name}") for p in train]
        jobs += [(p, f"{CATEGORY}/test/good/{p.name}") for p in test]
        jobs += [(p, f"{CATEGORY}/test/{kind}/{p.name}") for p, kind in sorted(anomalous)]
        for image, relative in self.bar(jobs, total=len(jobs)):
            out.copy(image, relative)


def is_raw_elpv(root: Path) -> bool:
    return any_of(shallow(root, "images/cell*.png", depth=4))


ELPV = prepared_reader(
    "ELPV",
    "elpv",
    category=CATEGORY,
    defects="mono,poly",
    masks=None,
    about="ELPV (solar cells; probability-0 cells normal, probability-1 anomalous)",
)
SPEC = DatasetSpec(
    "elpv",
    ELPV,
    "ELPV solar cells, no masks",
    converter=ELPVConverter,
    mvtec_like=True,
    signature=Signature("the raw ELPV download (labels.csv, images/cell*.png)", is_raw_elpv),
)

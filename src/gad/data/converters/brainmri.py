"""BrainMRI (Kaggle brain-mri-images-for-brain-tumor-detection): ``no/`` split 75/25, ``yes/`` anomalous."""

from __future__ import annotations

from pathlib import Path

from gad.data.converters.base import Converter, Output
from gad.data.converters.common import images_in
from gad.data.sources.prepared import prepared_reader
from gad.data.sources.spec import DatasetSpec, Signature
from gad.data.sources.splits import split_normals

CATEGORY = "brainmri"


class BrainMRIConverter(Converter):
    """Rule (InCTRL ``convert_BrainMRI.py``): ``no/`` images split into ``train/good`` and ``test/good``; every
    ``yes/`` image goes to ``test/defect``. Files are copied byte for byte with their names."""

    name = "brainmri"
    raw_layout = "SRC/no/*.jpg (no tumour) and SRC/yes/*.jpg (tumour), or SRC/brain_tumor_dataset/{no,yes}"

    def convert(self, src: Path, out: Output) -> None:
        base = src / "brain_tumor_dataset" if (src / "brain_tumor_dataset").is_dir() else src
        for needed in ("no", "yes"):
            if not (base / needed).is_dir():
                raise self.layout_error(f"missing folder {base / needed}", src)
        train, test = split_normals(images_in(base / "no"), self.test_fraction, self.seed)
        jobs = [(p, f"{CATEGORY}/train/good/{p.name}") for p in train]
        jobs += [(p, f"{CATEGORY}/test/good/{p.name}") for p in test]
        jobs += [(p, f"{CATEGORY}/test/defect/{p.name}") for p in images_in(base / "yes")]
        for image, relative in self.bar(jobs, total=len(jobs)):
            out.copy(image, relative)


def is_raw_brainmri(root: Path) -> bool:
    return ((root / "no").is_dir() and (root / "yes").is_dir()) or (root / "brain_tumor_dataset").is_dir()


BrainMRI = prepared_reader(
    "BrainMRI",
    "brainmri",
    category=CATEGORY,
    defects="defect",
    masks=None,
    about="BrainMRI (no/ split 75/25, yes/ anomalous)",
)
SPEC = DatasetSpec(
    "brainmri",
    BrainMRI,
    "BrainMRI tumour images (Kaggle), no masks",
    converter=BrainMRIConverter,
    mvtec_like=True,
    signature=Signature("the raw BrainMRI download (no/, yes/)", is_raw_brainmri),
)

"""KolektorSDD: each image and its label cut into 3 horizontal strips; strips with defect pixels are anomalous."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gad.data.converters.base import Converter, Output
from gad.data.converters.common import read_array
from gad.data.sources.layouts import any_of, subdirs
from gad.data.sources.prepared import prepared_reader
from gad.data.sources.spec import DatasetSpec, Signature
from gad.data.sources.splits import split_normals

CATEGORY = "sdd"
STRIPS = 3


class KolektorSDDConverter(Converter):
    """Rule (InCTRL ``convert_SDD.py``): ``kosXX/PartN.jpg`` and ``PartN_label.bmp`` are cut into 3 strips of
    height ``H // 3`` (the last ``H % 3`` rows are dropped); a strip whose label has a non-zero pixel goes to
    ``test/defect`` with its mask ``ground_truth/defect/<name>_mask.png``; normal strips are split into
    ``train/good`` and ``test/good``. Strips are named ``kosXX_PartN_<strip>.png``."""

    name = "kolektorsdd"
    raw_layout = "SRC/kos01 ... SRC/kos50, each with Part0.jpg ... Part7.jpg and Part0_label.bmp ... (KolektorSDD)"

    def convert(self, src: Path, out: Output) -> None:
        pairs = []
        for folder in sorted(d for d in src.iterdir() if d.is_dir() and d.name.lower().startswith("kos")):
            for image in sorted(folder.glob("Part*.jpg")):
                label = next(
                    (
                        c
                        for c in (
                            image.with_name(f"{image.stem}_label.bmp"),
                            image.with_name(f"{image.stem}_label.png"),
                        )
                        if c.is_file()
                    ),
                    None,
                )
                if label is None:
                    raise self.layout_error(f"image {image} has no label {image.stem}_label.bmp", src)
                pairs.append((folder.name, image, label))
        if not pairs:
            raise self.layout_error(f"no kosXX/PartN.jpg found in {src}", src)
        normal: list[tuple[str, np.ndarray]] = []
        anomalous = []
        for kos, image, label in self.bar(pairs, total=len(pairs), desc="cutting KolektorSDD strips"):
            pixels, mask = read_array(image), read_array(label)
            if mask.ndim == 3:
                mask = mask.max(axis=2)
            if mask.shape[:2] != pixels.shape[:2]:
                raise self.layout_error(f"label {label} is not the size of {image}", src)
            height = pixels.shape[0] // STRIPS
            for strip in range(STRIPS):
                rows = slice(strip * height, (strip + 1) * height)
                stem = f"{kos}_{image.stem}_{strip}"
                if mask[rows].any():
                    anomalous.append(stem)
                    out.save_image(pixels[rows], f"{CATEGORY}/test/defect/{stem}.png")
                    out.save_mask(mask[rows], f"{CATEGORY}/ground_truth/defect/{stem}_mask.png")
                else:
                    normal.append((stem, pixels[rows]))
        normal.sort(key=lambda item: item[0])
        train, test = split_normals(normal, self.test_fraction, self.seed)
        for folder_name, chosen in (("train", train), ("test", test)):
            for stem, pixels in chosen:
                out.save_image(pixels, f"{CATEGORY}/{folder_name}/good/{stem}.png")


def is_raw_kolektor(root: Path) -> bool:
    return any_of(d for d in subdirs(root) if d.name.lower().startswith("kos") and any_of(d.glob("Part*")))


KolektorSDD = prepared_reader(
    "KolektorSDD",
    "kolektorsdd",
    category=CATEGORY,
    defects="defect",
    masks="ground_truth/defect/<name>_mask.png",
    about="KolektorSDD (3 strips per image, 75/25 split of the normal strips)",
)
SPEC = DatasetSpec(
    "kolektorsdd",
    KolektorSDD,
    "KolektorSDD electrical commutators, cut into 3 strips",
    converter=KolektorSDDConverter,
    mvtec_like=True,
    signature=Signature("the raw KolektorSDD download (kos01/Part0.jpg)", is_raw_kolektor),
)

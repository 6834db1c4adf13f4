"""``gad data check``: counts per category and split, and the problems found in the files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from gad.data.images import ImageReadError, list_images, read_mask_file
from gad.data.sources.base import SampleSource
from gad.data.sources.folder import Folder

# Folder names that usually hold pixel annotations; a Folder reader ignores them unless mask_dir names them.
MASK_FOLDER_NAMES = ("masks", "mask", "ground_truth")


@dataclass
class CheckReport:
    """Counts per category (train normal, test normal, test anomalous, masks) and problems with single files."""

    dataset: str
    counts: pd.DataFrame
    problems: list[str] = field(default_factory=list)
    resized_masks: int = 0
    soft_masks: dict[str, float] = field(default_factory=dict)  # path: share of intermediate values (MaskFile)
    missing_test: dict[str, str] = field(default_factory=dict)
    """Categories without a test split (normal images only: fine for an auxiliary set), with what is missing."""
    hints: list[str] = field(default_factory=list)
    """Settings the data suggests but the reader was not given (e.g. a ``masks/`` folder without ``mask_dir``)."""

    def table(self) -> str:
        return self.counts.to_string()

    @property
    def ok(self) -> bool:
        return not self.problems


def count_table(samples: pd.DataFrame) -> pd.DataFrame:
    """One row per category plus ``total``: train_normal, test_normal, test_anomalous, masks."""
    rows = []
    for category, group in samples.groupby("category", sort=True):
        train, test = group[group["split"] == "train"], group[group["split"] == "test"]
        rows.append(
            {
                "category": category,
                "train_normal": len(train),
                "test_normal": int((test["label"] == 0).sum()),
                "test_anomalous": int((test["label"] == 1).sum()),
                "masks": int(group["mask_path"].notna().sum()),
            }
        )
    table = pd.DataFrame(rows).set_index("category")
    table.loc["total"] = table.sum()
    return table


def check_source(source: SampleSource, open_files: bool = True, progress: bool = True) -> CheckReport:
    """Read the samples table (layout errors raise; a missing test split is noted, not raised) and, with
    ``open_files``, open every image header and read every mask: unreadable files and empty (all-zero) masks of
    anomalous images are problems; soft masks (values between 0 and full scale) are listed with the share of such
    values; masks of another size than their image are counted (they are resized with nearest neighbour when read,
    or refused if their aspect ratio differs)."""
    samples = source.samples(need_test=False)
    report = CheckReport(source.name, count_table(samples), missing_test=source.missing_test())
    report.hints += unused_mask_folders(source)
    if not open_files:
        return report
    rows = list(samples[["path", "mask_path", "label"]].drop_duplicates("path").itertuples(index=False))
    for path, mask_path, label in tqdm(
        rows, desc=f"checking {source.name}", disable=not progress, unit="file", leave=False
    ):
        size = _size(path, report)
        if isinstance(mask_path, str):
            mask_size = _check_mask(mask_path, path, int(label), report)
            if size and mask_size and size != mask_size:
                if abs(size[0] / size[1] - mask_size[0] / mask_size[1]) > 0.01:
                    report.problems.append(
                        f"mask {mask_path} is {mask_size[0]}x{mask_size[1]} but image {path} is "
                        f"{size[0]}x{size[1]} (another aspect ratio: not aligned)"
                    )
                else:
                    report.resized_masks += 1
    return report


def _check_mask(mask_path: str, path: str, label: int, report: CheckReport) -> tuple[int, int] | None:
    """The mask's (width, height), after noting what is wrong or unusual with it."""
    try:
        mask = read_mask_file(mask_path)
    except ImageReadError as err:
        report.problems.append(f"cannot read {mask_path}: {err.__cause__ or err}")
        return None
    if label == 1 and not mask.binary.any():
        report.problems.append(
            f"mask {mask_path} of anomalous image {path} is empty (all zero): no pixel of it would count as anomalous"
        )
    if mask.soft_share > 0:
        report.soft_masks[mask_path] = mask.soft_share
    return mask.values.shape[1], mask.values.shape[0]


def _size(path: str, report: CheckReport) -> tuple[int, int] | None:
    try:
        with Image.open(path) as image:
            image.verify()
            return image.size
    except Exception as err:  # noqa: BLE001 - any decoder failure is a problem to report
        report.problems.append(f"cannot read {path}: {err}")
        return None


def unused_mask_folders(source: SampleSource) -> list[str]:
    """A hint per mask-like folder that a ``Folder`` reader without ``mask_dir`` ignores: without it the test has
    image metrics only, and nothing else would say why the pixel metrics are missing."""
    if not isinstance(source, Folder) or source.mask_dir is not None:
        return []
    category_folders = [source.root] + sorted(p for p in source.root.iterdir() if p.is_dir())
    found = sorted({p.name for folder in category_folders for p in folder.iterdir() if _is_mask_folder(p)})
    hints = []
    for name in found:
        suffix = _mask_suffix(source.root, name)
        options = f"--option mask_dir={name}" + (f" mask_suffix={suffix}" if suffix else "")
        hints.append(
            f"Hint: {name}/ folders exist but mask_dir is unset, so their masks are ignored and only image metrics "
            f"are computed; to use them: {options} (in a config: mask_dir: {name}"
            + (f", mask_suffix: {suffix})" if suffix else ")")
        )
    return hints


def _is_mask_folder(path: Path) -> bool:
    return path.is_dir() and path.name.lower() in MASK_FOLDER_NAMES


def _mask_suffix(root: Path, name: str) -> str:
    """``_mask`` when the mask files are named ``<stem>_mask.*`` (MVTec's convention), else empty."""
    folders = [f for f in root.glob(f"**/{name}") if f.is_dir()]
    masks = [p for f in folders for d in [f, *(s for s in f.iterdir() if s.is_dir())] for p in list_images(d)]
    return "_mask" if masks and all(p.stem.endswith("_mask") for p in masks) else ""

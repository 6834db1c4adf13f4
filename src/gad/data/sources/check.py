"""``gad data check``: counts per category and split, and the problems found in the files."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from gad.data.images import ImageReadError, read_mask_file
from gad.data.sources.base import SampleSource


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

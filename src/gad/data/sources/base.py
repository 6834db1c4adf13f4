"""The samples table every dataset reader produces, and its validation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import pandas as pd

from gad.errors import GadError

MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")

SAMPLE_COLUMNS = ("path", "category", "split", "label", "defect", "mask_path")


class DataLayoutError(GadError, FileNotFoundError):
    """A dataset folder that does not match the layout its reader expects."""


class SampleSource(ABC):
    """A dataset on disk, read into a table with columns ``SAMPLE_COLUMNS``.

    ``split`` is ``train`` (normal images only: the pool that references are drawn from) or ``test``;
    ``label`` is 1 for anomalous images; ``mask_path`` is ``None`` where there is no pixel annotation.

    A category may lack its test split (a set of normal images only, usable for training): the reader notes what
    is missing (``missing_test``) and ``samples()`` raises that, naming the folder or file, unless the caller
    says it needs the training split only.

    Args:
        root: the dataset folder.
        categories: the categories to use, default all found.
        name: the dataset's name in reports and manifests, default the reader's own.
    """

    default_name: str = "dataset"
    layout_help: str = ""

    def __init__(self, root: str, categories: list[str] | None = None, name: str | None = None) -> None:
        self.root = Path(root).expanduser()
        self.categories = list(categories) if categories else None
        self.name = name or self.default_name
        self._samples: pd.DataFrame | None = None
        self._missing_test: dict[str, str] = {}

    def prepare(self) -> None:
        """Create the data if this reader can (generated sets); readers of downloaded sets do nothing."""

    @property
    @abstractmethod
    def has_masks(self) -> bool:
        """Whether anomalous test images come with pixel masks."""

    @abstractmethod
    def read(self) -> pd.DataFrame:
        """Rows of all categories found under ``root``."""

    def samples(self, need_test: bool = True) -> pd.DataFrame:
        """The validated table restricted to the chosen categories (read once).

        ``need_test``: every chosen category must have its test split (evaluated sets); ``False`` for a set used
        for training only, which may hold normal images only.
        """
        if self._samples is None:
            if not self.root.is_dir():
                raise DataLayoutError(f"{self.name}: data folder {self.root} does not exist. {self.layout_help}")
            if not any(self.root.iterdir()):
                raise DataLayoutError(f"{self.name}: data folder {self.root} is empty. {self.layout_help}")
            self._missing_test = {}
            table = self.read()
            self._samples = self._select(table)
        missing = self.missing_test() if need_test else {}
        if missing:
            category, problem = next(iter(missing.items()))
            raise self.layout_error(
                f"{problem}: {category} has no test split, which is needed to evaluate the set or to train on its "
                "labelled anomalies (a set of normal images only can be the auxiliary set of self-supervised training)"
            )
        return self._samples

    def missing_test(self) -> dict[str, str]:
        """Chosen categories without a test split, each with what is missing (e.g. ``missing folder .../test``)."""
        self.samples(need_test=False)
        return {c: p for c, p in sorted(self._missing_test.items()) if self.categories is None or c in self.categories}

    def note_missing_test(self, category: str, problem: str) -> None:
        """For ``read``: ``category`` has no test split because of ``problem`` (raised where a test is needed)."""
        self._missing_test[category] = problem

    def _select(self, table: pd.DataFrame) -> pd.DataFrame:
        missing_columns = set(SAMPLE_COLUMNS) - set(table.columns)
        if missing_columns:
            raise ValueError(f"{type(self).__name__}.read() lost columns {sorted(missing_columns)}")
        self.check_categories(sorted(table["category"].unique()))
        if self.categories is not None:
            table = table[table["category"].isin(self.categories)]
        return table.sort_values(["category", "split", "path"], kind="stable").reset_index(drop=True)

    def check_categories(self, found: list[str]) -> None:
        """Fail unless categories were found and every requested one is among them."""
        if not found:
            raise DataLayoutError(
                f"{self.name}: no category found in {self.root}.{self.lookalike_hint()} {self.layout_help}"
            )
        unknown = sorted(set(self.categories or []) - set(found))
        if unknown:
            raise DataLayoutError(f"{self.name}: categories {unknown} not found in {self.root}; found {found}.")

    def lookalike_hint(self, folder: Path | None = None) -> str:
        """`` This folder looks like ...`` when ``folder`` (default ``root``) matches another dataset's layout."""
        from gad.data.sources.layouts import lookalike_hint

        return lookalike_hint(folder or self.root, exclude=self.default_name)

    def layout_error(self, problem: str, folder: Path | None = None) -> DataLayoutError:
        """An error that names the problem, says which other layout the folder resembles, and shows ours."""
        return DataLayoutError(f"{self.name}: {problem}.{self.lookalike_hint(folder)} {self.layout_help}")

    def category_names(self) -> list[str]:
        return sorted(self.samples(need_test=False)["category"].unique())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, root='{self.root}')"


def sample_row(path: Path, category: str, split: str, label: int, defect: str, mask: Path | None) -> dict:
    """One row of a samples table."""
    return {
        "path": str(path),
        "category": category,
        "split": split,
        "label": int(label),
        "defect": defect,
        "mask_path": None if mask is None else str(mask),
    }


def first_existing(candidates: list[Path]) -> Path | None:
    """The first of ``candidates`` that is a file."""
    return next((c for c in candidates if c.is_file()), None)


def mask_candidates(folder: Path, stem: str) -> list[Path]:
    """``folder/stem`` with every mask extension (masks are looked up by stem, whatever their format)."""
    return [folder / f"{stem}{suffix}" for suffix in MASK_SUFFIXES]

"""A user's own images: a folder of normal images, one of anomalous images, optionally masks and categories."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gad.data.images import list_images
from gad.data.sources.base import DataLayoutError, SampleSource, first_existing, mask_candidates, sample_row
from gad.data.sources.layouts import subdirs
from gad.data.sources.spec import DatasetSpec, Signature
from gad.data.sources.splits import split_normals


class Folder(SampleSource):
    """Your own data. Either one category (``ROOT/<normal_dir>`` exists; the category is named after ``ROOT``) or
    one sub-folder per category (``ROOT/<category>/<normal_dir>``).

    In a category folder: ``<normal_dir>/*`` normal images; ``<abnormal_dir>/*`` anomalous images, directly or in
    one sub-folder per defect type; optionally ``<mask_dir>/`` with a mask per anomalous image, named
    ``<stem><mask_suffix>`` with any image extension (in the same defect sub-folder if there are any); optionally
    ``<normal_test_dir>/*`` normal test images. Without ``normal_test_dir`` the normal images are split like the
    converters do (``test_fraction`` to test, seed ``seed``); the rest is the training pool.

    A category without ``<abnormal_dir>`` is normal images only: all of ``<normal_dir>`` is its training pool and
    it has no test split, so it can be an auxiliary (training) set but not an evaluated one.

    Args:
        root: the folder.
        categories: the categories to use, default all found.
        name: the dataset's name in reports.
        normal_dir: the normal images' folder name.
        abnormal_dir: the anomalous images' folder name.
        mask_dir: the masks' folder name; ``None``: no pixel annotations.
        normal_test_dir: a folder of normal test images (then ``normal_dir`` is only the training pool).
        mask_suffix: what follows an image's stem in its mask's name (e.g. ``_mask``).
        test_fraction: share of the normal images used as test normals when there is no ``normal_test_dir``.
        seed: seed of that split.
    """

    default_name = "folder"

    def __init__(
        self,
        root: str,
        categories: list[str] | None = None,
        name: str | None = None,
        normal_dir: str = "normal",
        abnormal_dir: str = "abnormal",
        mask_dir: str | None = None,
        normal_test_dir: str | None = None,
        mask_suffix: str = "",
        test_fraction: float = 0.25,
        seed: int = 42,
    ) -> None:
        super().__init__(root, categories, name)
        self.normal_dir, self.abnormal_dir, self.mask_dir = normal_dir, abnormal_dir, mask_dir
        self.normal_test_dir, self.mask_suffix = normal_test_dir, mask_suffix
        self.test_fraction, self.seed = test_fraction, seed
        masks = f", ROOT/[<category>/]{mask_dir}/[<defect>/]<stem>{mask_suffix}.png" if mask_dir else ""
        normal_test = f", ROOT/[<category>/]{normal_test_dir}/*" if normal_test_dir else ""
        self.layout_help = (
            f"Expected ROOT/[<category>/]{normal_dir}/* (normal images), ROOT/[<category>/]{abnormal_dir}/[<defect>/]* "
            f"(anomalous images){masks}{normal_test}."
        )

    @property
    def has_masks(self) -> bool:
        return self.mask_dir is not None

    def read(self) -> pd.DataFrame:
        if (self.root / self.normal_dir).is_dir():
            folders = {self.root.resolve().name: self.root}
        else:
            folders = {p.name: p for p in sorted(self.root.iterdir()) if (p / self.normal_dir).is_dir()}
        self.check_categories(sorted(folders))
        rows: list[dict] = []
        for category in self.categories or sorted(folders):
            rows += self._read_category(category, folders[category])
        return pd.DataFrame(rows, columns=["path", "category", "split", "label", "defect", "mask_path"])

    def _read_category(self, category: str, folder: Path) -> list[dict]:
        normal = list_images(folder / self.normal_dir)
        if not normal:
            raise DataLayoutError(f"{self.name}: no image in {folder / self.normal_dir}. {self.layout_help}")
        abnormal = folder / self.abnormal_dir
        if not abnormal.is_dir():
            self.note_missing_test(category, f"missing folder {abnormal}")
            return [sample_row(p, category, "train", 0, "good", None) for p in normal]
        if self.normal_test_dir is not None:
            if not (folder / self.normal_test_dir).is_dir():
                missing = folder / self.normal_test_dir
                raise DataLayoutError(f"{self.name}: missing folder {missing}. {self.layout_help}")
            train, test = normal, list_images(folder / self.normal_test_dir)
        else:
            train, test = split_normals(normal, self.test_fraction, self.seed)
        rows = [sample_row(p, category, "train", 0, "good", None) for p in sorted(train)]
        rows += [sample_row(p, category, "test", 0, "good", None) for p in sorted(test)]
        groups = [(d.name, d) for d in sorted(abnormal.iterdir()) if d.is_dir()]
        direct = list_images(abnormal)
        anomalous = [(self.abnormal_dir, p, "") for p in direct]
        anomalous += [(defect, p, defect) for defect, d in groups for p in list_images(d)]
        if not anomalous:
            raise DataLayoutError(f"{self.name}: no anomalous image in {abnormal}. {self.layout_help}")
        for defect, image, sub in anomalous:
            mask = None
            if self.mask_dir is not None:
                candidates = mask_candidates(folder / self.mask_dir / sub, f"{image.stem}{self.mask_suffix}")
                mask = first_existing(candidates)
                if mask is None:
                    raise DataLayoutError(
                        f"{self.name}: anomalous image {image} has no mask; expected {candidates[0]}. "
                        f"{self.layout_help}"
                    )
            rows.append(sample_row(image, category, "test", 1, defect, mask))
        return rows


def is_folder(root: Path) -> bool:
    return any((d / "normal").is_dir() or (d / "good").is_dir() for d in [root, *subdirs(root)])


SPEC = DatasetSpec(
    "folder",
    Folder,
    "your own images: normal/ and abnormal/ folders, optional masks and categories",
    signature=Signature("a folder of normal/abnormal images", is_folder, generic=True),
)

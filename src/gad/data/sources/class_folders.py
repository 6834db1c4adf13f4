"""Classification datasets as anomaly detection: one-vs-all or multi-class protocols over class folders."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from gad.data.images import list_images
from gad.data.sources.base import DataLayoutError, SampleSource, sample_row
from gad.errors import ConfigError

Protocol = Literal["one_vs_all", "multi_class"]

TRAIN_NAMES = ("train", "training")
TEST_NAMES = ("test", "testing")


class ClassFolders(SampleSource):
    """``{train,test}/<class>/*.png`` read under the InCTRL paper's protocols (Sec. 4.1).

    ``one_vs_all``: one category per class (named like the class); its training pool is that class's training
    images, its test set the whole test split with every other class anomalous (defect = the class name).
    Results are averaged over the categories. ``multi_class``: one category (``normal_group``) whose normal
    classes are ``normal_classes``; the training pool is their training images, the test set the whole test
    split with the other classes anomalous.

    Subclasses set ``classes``, ``normal_classes`` and ``normal_group``.
    """

    classes: tuple[str, ...] = ()
    normal_classes: tuple[str, ...] = ()
    normal_group: str = "normal"

    def __init__(
        self,
        root: str,
        categories: list[str] | None = None,
        name: str | None = None,
        protocol: Protocol = "one_vs_all",
        test_per_class: int | None = None,
    ) -> None:
        super().__init__(root, categories, name)
        if protocol not in ("one_vs_all", "multi_class"):
            raise ConfigError(f"{self.name}: protocol must be one_vs_all or multi_class, got {protocol!r}")
        self.protocol = protocol
        self.test_per_class = test_per_class

    @property
    def has_masks(self) -> bool:
        return False

    def split_folder(self, names: tuple[str, ...]) -> Path:
        """``root/train`` (or ``training``), also one or two levels down (``mnist_png/training``,
        ``cifar10/cifar10/train``)."""
        level = [self.root]
        for _ in range(3):
            for base in level:
                for name in names:
                    if (base / name).is_dir():
                        return base / name
            level = [p for base in level for p in sorted(base.iterdir()) if p.is_dir()]
        raise self.layout_error(f"no {' or '.join(names)} folder in {self.root}")

    def _class_images(self, split_dir: Path) -> dict[str, list[Path]]:
        found = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
        missing = [c for c in self.classes if c not in found]
        if missing:
            raise self.layout_error(f"class folders {missing} missing in {split_dir} (found {found})")
        images = {c: list_images(split_dir / c) for c in self.classes}
        empty = [c for c, paths in images.items() if not paths]
        if empty:
            raise DataLayoutError(f"{self.name}: no image in {[str(split_dir / c) for c in empty]}. {self.layout_help}")
        return images

    def read(self) -> pd.DataFrame:
        train = self._class_images(self.split_folder(TRAIN_NAMES))
        test = self._class_images(self.split_folder(TEST_NAMES))
        if self.test_per_class is not None:
            test = {c: paths[: self.test_per_class] for c, paths in test.items()}
        groups = (
            {c: (c,) for c in self.classes}
            if self.protocol == "one_vs_all"
            else {self.normal_group: self.normal_classes}
        )
        wanted = self.categories or list(groups)
        self.check_categories(sorted(groups))
        rows: list[dict] = []
        for category in wanted:
            normal = set(groups[category])
            rows += [sample_row(p, category, "train", 0, "good", None) for c in sorted(normal) for p in train[c]]
            for c in self.classes:
                anomalous = c not in normal
                rows += [
                    sample_row(p, category, "test", int(anomalous), c if anomalous else "good", None) for p in test[c]
                ]
        return pd.DataFrame(rows, columns=["path", "category", "split", "label", "defect", "mask_path"])

"""CIFAR-10 as anomaly detection (InCTRL protocols): Kaggle PNG folders or ``gad data prepare cifar10`` output."""

from __future__ import annotations

from gad.data.sources.class_folders import ClassFolders, Protocol

CIFAR10_LAYOUT = (
    "Expected CIFAR-10 class folders: ROOT/train/{airplane,automobile,bird,cat,deer,dog,frog,horse,ship,truck}/*.png "
    "and ROOT/test/<class>/*.png (Kaggle cifar10-pngs-in-folders, also one level down as ROOT/cifar10/train), or "
    "the python batches converted with `gad data prepare cifar10 --src RAW --dst ROOT`."
)


class CIFAR10(ClassFolders):
    """CIFAR-10. ``one_vs_all``: one category per class; ``multi_class``: one category ``animal`` whose normal
    classes are bird, cat, deer, dog, frog and horse (vehicles anomalous).

    Args:
        root: the class-folder dataset.
        categories: the categories to use, default all of the protocol.
        name: the dataset's name in reports.
        protocol: ``one_vs_all`` or ``multi_class``.
        test_per_class: use only the first N test images (by name) of every class, for quick runs.
    """

    default_name = "cifar10"
    layout_help = CIFAR10_LAYOUT
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    normal_classes = ("bird", "cat", "deer", "dog", "frog", "horse")
    normal_group = "animal"

    def __init__(
        self,
        root: str = "data/cifar10",
        categories: list[str] | None = None,
        name: str | None = None,
        protocol: Protocol = "one_vs_all",
        test_per_class: int | None = None,
    ) -> None:
        super().__init__(root, categories, name, protocol, test_per_class)

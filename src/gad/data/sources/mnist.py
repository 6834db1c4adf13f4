"""MNIST as anomaly detection (InCTRL protocols): the Kaggle PNG folders or the output of ``gad data prepare mnist``."""

from __future__ import annotations

from gad.data.sources.class_folders import ClassFolders, Protocol

MNIST_LAYOUT = (
    "Expected MNIST class folders: ROOT/{train,training}/{0..9}/*.png and ROOT/{test,testing}/{0..9}/*.png "
    "(Kaggle mnist-png, also one level down as ROOT/mnist_png/training), or the official idx files converted "
    "with `gad data prepare mnist --src RAW --dst ROOT`."
)


class MNIST(ClassFolders):
    """MNIST digits. ``one_vs_all``: categories ``"0"`` ... ``"9"`` (quote them in YAML); ``multi_class``: one
    category ``even`` whose normal digits are 0, 2, 4, 6, 8.

    Args:
        root: the class-folder dataset.
        categories: the categories to use, default all of the protocol.
        name: the dataset's name in reports.
        protocol: ``one_vs_all`` or ``multi_class``.
        test_per_class: use only the first N test images (by name) of every class, for quick runs.
    """

    default_name = "mnist"
    layout_help = MNIST_LAYOUT
    classes = tuple(str(d) for d in range(10))
    normal_classes = ("0", "2", "4", "6", "8")
    normal_group = "even"

    def __init__(
        self,
        root: str = "data/mnist",
        categories: list[str] | None = None,
        name: str | None = None,
        protocol: Protocol = "one_vs_all",
        test_per_class: int | None = None,
    ) -> None:
        super().__init__(root, categories, name, protocol, test_per_class)

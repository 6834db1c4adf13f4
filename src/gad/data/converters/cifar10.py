"""CIFAR-10 from its official python batches to class folders ``{train,test}/<class>/<index>.png``."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from gad.data.converters.base import Converter, Output
from gad.data.converters.common import find_one
from gad.data.sources.cifar10 import CIFAR10
from gad.data.sources.layouts import any_of, shallow
from gad.data.sources.spec import DatasetSpec, Signature

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches only: numpy arrays and plain containers, no other code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a CIFAR-10 batch")
        return super().find_class(module, name)


def read_batch(path: Path) -> tuple[np.ndarray, list[int]]:
    """(N, 32, 32, 3) uint8 images and their labels from one batch file."""
    with path.open("rb") as handle:
        batch = _BatchUnpickler(handle, encoding="bytes").load()
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return data, [int(label) for label in batch["labels"]]


class CIFAR10Converter(Converter):
    """``cifar-10-batches-py/data_batch_1..5`` (50,000, numbered in batch order) to ``train/<class>/<index:05d>.png``
    and ``test_batch`` (10,000) to ``test/<class>/...``. No images are split or dropped: the protocol is chosen
    when reading, with ``gad.data.sources.CIFAR10(protocol=...)``. The Kaggle PNG folders
    (``cifar10/{train,test}/<class>``) need no conversion. Batches are unpickled with a loader that accepts
    numpy arrays only."""

    name = "cifar10"
    split_rule = "the official 5 training batches (50,000) / test batch (10,000); no split of its own"
    raw_layout = "SRC/cifar-10-batches-py/{data_batch_1..5,test_batch} (the python version of CIFAR-10)"

    def settings(self) -> dict:
        return {}

    def convert(self, src: Path, out: Output) -> None:
        first = find_one(src, ["data_batch_1"])
        if first is None:
            raise self.layout_error(f"no data_batch_1 in {src}", src)
        folder = first.parent
        for split, names in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
            index = 0
            for name in names:
                if not (folder / name).is_file():
                    raise self.layout_error(f"missing {folder / name}", src)
                try:
                    images, labels = read_batch(folder / name)
                except (OSError, ValueError, KeyError, pickle.UnpicklingError, EOFError) as err:
                    raise self.layout_error(f"cannot read {folder / name}: {err}", src) from err
                for image, label in self.bar(zip(images, labels), total=len(labels), desc=f"CIFAR-10 {name}"):
                    out.save_image(image, f"{split}/{CIFAR10_CLASSES[label]}/{index:05d}.png")
                    index += 1


def is_raw_cifar10(root: Path) -> bool:
    return any_of(shallow(root, "data_batch_1"))


SPEC = DatasetSpec(
    "cifar10",
    CIFAR10,
    "CIFAR-10, one-vs-all or multi-class (PNG folders, or the python batches prepared)",
    converter=CIFAR10Converter,
    signature=Signature("the CIFAR-10 python batches", is_raw_cifar10),
)

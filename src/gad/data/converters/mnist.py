"""MNIST from its official idx files (optionally gzipped) to class folders ``{train,test}/<digit>/<index>.png``."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from gad.data.converters.base import Converter, Output
from gad.data.converters.common import find_one
from gad.data.sources.layouts import any_of, shallow
from gad.data.sources.mnist import MNIST
from gad.data.sources.spec import DatasetSpec, Signature

IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


def read_idx(path: Path) -> np.ndarray:
    """An idx file (``.gz`` or not) as an array: (N, rows, cols) uint8 images or (N,) uint8 labels."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic == IMAGE_MAGIC:
        count, rows, cols = struct.unpack(">III", data[4:16])
        return np.frombuffer(data, dtype=np.uint8, count=count * rows * cols, offset=16).reshape(count, rows, cols)
    if magic == LABEL_MAGIC:
        (count,) = struct.unpack(">I", data[4:8])
        return np.frombuffer(data, dtype=np.uint8, count=count, offset=8)
    raise ValueError(f"{path} is not an MNIST idx file (magic number {magic})")


class MNISTConverter(Converter):
    """The four official files to ``train/<digit>/<index:05d>.png`` (60,000) and ``test/<digit>/...`` (10,000),
    ``index`` being the position in the file. No images are split or dropped: the protocol (one-vs-all or
    multi-class) is chosen when reading, with ``gad.data.sources.MNIST(protocol=...)``. The Kaggle PNG folders
    (``mnist_png/{training,testing}/<digit>``) need no conversion."""

    name = "mnist"
    split_rule = "the official train (60,000) / test (10,000) files; no split of its own"
    raw_layout = (
        "SRC/train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte "
        "(each optionally .gz, also `train-images.idx3-ubyte` spellings and torchvision's MNIST/raw/)"
    )

    def settings(self) -> dict:
        return {}

    def convert(self, src: Path, out: Output) -> None:
        for split, prefix in (("train", "train"), ("test", "t10k")):
            images_file = find_one(src, [f"{prefix}-images-idx3-ubyte*", f"{prefix}-images.idx3-ubyte*"])
            labels_file = find_one(src, [f"{prefix}-labels-idx1-ubyte*", f"{prefix}-labels.idx1-ubyte*"])
            if images_file is None or labels_file is None:
                raise self.layout_error(f"no {prefix}-images-idx3-ubyte / {prefix}-labels-idx1-ubyte in {src}", src)
            try:
                images, labels = read_idx(images_file), read_idx(labels_file)
            except (OSError, ValueError, struct.error) as err:
                raise self.layout_error(f"cannot read {images_file} or {labels_file}: {err}", src) from err
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise self.layout_error(f"{images_file} and {labels_file} do not match", src)
            for index in self.bar(range(len(images)), total=len(images), desc=f"MNIST {split}"):
                out.save_image(images[index], f"{split}/{labels[index]}/{index:05d}.png")


def is_raw_mnist(root: Path) -> bool:
    return any_of(shallow(root, "*idx3-ubyte*"))


SPEC = DatasetSpec(
    "mnist",
    MNIST,
    "MNIST digits, one-vs-all or multi-class (PNG folders, or the idx files prepared)",
    converter=MNISTConverter,
    signature=Signature("the MNIST idx files", is_raw_mnist),
)

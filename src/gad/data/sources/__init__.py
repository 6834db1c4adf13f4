"""Readers that turn a dataset on disk into a samples table (one row per image).

Configs name them by class path, e.g. ``class_path: gad.data.sources.VisA``. Every reader registered in
``gad.data.registry`` is importable from here by its class name, including those declared beside their converters
(``ELPV``, ``AITEX``, ...) and those of datasets added later.
"""

from gad.data.sources.base import SAMPLE_COLUMNS, DataLayoutError, SampleSource
from gad.data.sources.brats import BraTS
from gad.data.sources.btad import BTAD
from gad.data.sources.cifar10 import CIFAR10
from gad.data.sources.class_folders import ClassFolders
from gad.data.sources.folder import Folder
from gad.data.sources.meta_json import MetaJson, write_meta_json
from gad.data.sources.mnist import MNIST
from gad.data.sources.mpdd import MPDD
from gad.data.sources.mvtec import MVTecAD, MVTecLayout
from gad.data.sources.mvtec3d import MVTec3D
from gad.data.sources.quickstart import QuickstartData
from gad.data.sources.resc import RESC
from gad.data.sources.visa import VisA


def __getattr__(name: str) -> type[SampleSource]:
    """A registered reader by class name (``gad.data.sources.ELPV``), imported on first use: the registry imports
    the converters, which import this package."""
    from gad.data.registry import DATASETS

    for spec in DATASETS:
        if spec.reader.__name__ == name:
            return spec.reader
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [  # AITEX ... KolektorSDD come through __getattr__
    "AITEX",
    "BTAD",
    "CIFAR10",
    "ELPV",
    "MNIST",
    "MPDD",
    "RESC",
    "SAMPLE_COLUMNS",
    "BraTS",
    "BrainMRI",
    "ClassFolders",
    "DataLayoutError",
    "Folder",
    "HeadCT",
    "KolektorSDD",
    "MVTec3D",
    "MVTecAD",
    "MVTecLayout",
    "MetaJson",
    "QuickstartData",
    "SampleSource",
    "VisA",
    "write_meta_json",
]

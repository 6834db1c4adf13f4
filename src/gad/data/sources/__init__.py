"""Readers that turn a dataset on disk into a samples table (one row per image).

Configs name them by class path, e.g. ``class_path: gad.data.sources.VisA``; ``SOURCES`` maps the short names of
``gad data check NAME`` to the classes.
"""

from gad.data.sources.aitex import AITEX
from gad.data.sources.base import SAMPLE_COLUMNS, DataLayoutError, SampleSource
from gad.data.sources.brainmri import BrainMRI
from gad.data.sources.brats import BraTS
from gad.data.sources.btad import BTAD
from gad.data.sources.cifar10 import CIFAR10
from gad.data.sources.class_folders import ClassFolders
from gad.data.sources.elpv import ELPV
from gad.data.sources.folder import Folder
from gad.data.sources.headct import HeadCT
from gad.data.sources.kolektorsdd import KolektorSDD
from gad.data.sources.meta_json import MetaJson, write_meta_json
from gad.data.sources.mnist import MNIST
from gad.data.sources.mpdd import MPDD
from gad.data.sources.mvtec import MVTecAD, MVTecLayout
from gad.data.sources.mvtec3d import MVTec3D
from gad.data.sources.quickstart import QuickstartData
from gad.data.sources.resc import RESC
from gad.data.sources.visa import VisA

SOURCES: dict[str, type[SampleSource]] = {
    "mvtec": MVTecAD,
    "visa": VisA,
    "mpdd": MPDD,
    "mvtec3d": MVTec3D,
    "btad": BTAD,
    "resc": RESC,
    "brats": BraTS,
    "kolektorsdd": KolektorSDD,
    "aitex": AITEX,
    "elpv": ELPV,
    "brainmri": BrainMRI,
    "headct": HeadCT,
    "mnist": MNIST,
    "cifar10": CIFAR10,
    "folder": Folder,
    "metajson": MetaJson,
    "mvtec_layout": MVTecLayout,
    "quickstart": QuickstartData,
}

__all__ = [
    "AITEX", "BTAD", "CIFAR10", "ELPV", "MNIST", "MPDD", "RESC", "SAMPLE_COLUMNS", "SOURCES", "BraTS", "BrainMRI",
    "ClassFolders", "DataLayoutError", "Folder", "HeadCT", "KolektorSDD", "MVTec3D", "MVTecAD", "MVTecLayout",
    "MetaJson", "QuickstartData", "SampleSource", "VisA", "write_meta_json",
]

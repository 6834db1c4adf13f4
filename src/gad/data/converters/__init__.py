"""Converters from raw downloads to layouts gad reads: ``gad data prepare NAME --src RAW --dst ROOT``.

Each converter's file also declares its dataset (``SPEC``: reader, raw-download signature), registered in
``gad.data.registry``.
"""

from gad.data.converters.aitex import AITEXConverter
from gad.data.converters.base import MANIFEST_NAME, ConversionError, ConversionResult, Converter
from gad.data.converters.brainmri import BrainMRIConverter
from gad.data.converters.cifar10 import CIFAR10Converter
from gad.data.converters.elpv import ELPVConverter
from gad.data.converters.headct import HeadCTConverter
from gad.data.converters.kolektor import KolektorSDDConverter
from gad.data.converters.mnist import MNISTConverter

__all__ = [
    "MANIFEST_NAME",
    "AITEXConverter",
    "BrainMRIConverter",
    "CIFAR10Converter",
    "ConversionError",
    "ConversionResult",
    "Converter",
    "ELPVConverter",
    "HeadCTConverter",
    "KolektorSDDConverter",
    "MNISTConverter",
]

"""DictAS (ICCV 2025): few-shot anomaly segmentation by dictionary lookup."""

from gad.models.dictas.lightning_model import DictAS
from gad.models.dictas.settings import InferenceSettings
from gad.models.dictas.torch_model import DictASModel, Dictionary

__all__ = ["DictAS", "DictASModel", "Dictionary", "InferenceSettings"]

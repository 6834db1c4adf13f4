"""WinCLIP / WinCLIP+ (CVPR 2023): zero- and few-shot anomaly classification and segmentation from CLIP windows."""

from gad.models.winclip.lightning_model import WinCLIP, paper_backbone
from gad.models.winclip.torch_model import WinCLIPModel, WinCLIPQueries, WinCLIPReferences

__all__ = ["WinCLIP", "WinCLIPModel", "WinCLIPQueries", "WinCLIPReferences", "paper_backbone"]

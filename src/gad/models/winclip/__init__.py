"""WinCLIP / WinCLIP+ (CVPR 2023): zero- and few-shot anomaly classification and segmentation from CLIP windows."""

from gad.models.winclip.torch_model import WinCLIPModel, WinCLIPQueries, WinCLIPReferences

__all__ = ["WinCLIPModel", "WinCLIPQueries", "WinCLIPReferences"]

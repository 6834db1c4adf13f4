"""InCTRL: generalist few-shot image anomaly detection by in-context residual learning (CVPR 2024)."""

from gad.models.inctrl.lightning_model import InCTRL, paper_backbone
from gad.models.inctrl.loss import focal_loss
from gad.models.inctrl.torch_model import InCTRLModel, InCTRLScores, PromptFeatures
from gad.models.inctrl.training_data import BalancedBatchSampler, InCTRLTrainingPipeline

__all__ = [
    "BalancedBatchSampler",
    "InCTRL",
    "InCTRLModel",
    "InCTRLScores",
    "InCTRLTrainingPipeline",
    "PromptFeatures",
    "focal_loss",
    "paper_backbone",
]

"""Binary focal loss (Lin et al. 2017) on InCTRL's scores, which are already probabilities."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

EPS = 1e-6


def focal_loss(
    probability: Tensor, target: Tensor, gamma: float = 2.0, alpha: float = 1.0, double_sigmoid: bool = False
) -> Tensor:
    """Mean of ``alpha * (1 - p_t) ** gamma * -log(p_t)``, with p_t the probability given to the true label.

    ``double_sigmoid=True`` reproduces the official code, which passes the probabilities to a logits-based loss
    (a second sigmoid squeezes them into [0.5, 0.73]); use it only to match the released checkpoints' training.
    Computed in float32, so it is safe under bf16 autocast.
    """
    probability, target = probability.float(), target.float()
    if double_sigmoid:
        bce = F.binary_cross_entropy_with_logits(probability, target, reduction="none")
    else:
        p = probability.clamp(EPS, 1.0 - EPS)
        bce = -(target * torch.log(p) + (1.0 - target) * torch.log1p(-p))
    p_true = torch.exp(-bce)
    return (alpha * (1.0 - p_true) ** gamma * bce).mean()

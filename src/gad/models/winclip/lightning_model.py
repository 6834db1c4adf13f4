"""Lightning wiring of WinCLIP / WinCLIP+: nothing to train, tested directly from a config with K >= 0 references."""

from __future__ import annotations

from collections.abc import Sequence

from gad.data.preprocessing import Preprocessing, ResizeRule
from gad.models.base import FewShotAnomalyModule
from gad.models.components.clip_backbone import ClipBackbone, ClipConfig
from gad.models.winclip.torch_model import PROMPT_SET, WinCLIPModel


def paper_backbone() -> ClipConfig:
    """The paper's CLIP: ViT-B-16-plus-240 with OpenCLIP's LAION-400M weights at 240 px (a 15 x 15 patch grid); the
    few-shot patch features are those of the last block (after ``ln_post``)."""
    return ClipConfig(model_name="ViT-B-16-plus-240", pretrained="laion400m_e32", layers=[12], image_size=240)


class WinCLIP(FewShotAnomalyModule):
    """WinCLIP (K = 0, zero-shot) and WinCLIP+ (K >= 1), Jeong et al., CVPR 2023: training-free.

    The contract: no training pipeline, zero references allowed (``--shots 0`` is the zero-shot WinCLIP), the
    WinCLIP prompt ensemble. Both image scores and anomaly maps are produced at any K.

    Args:
        backbone: which CLIP to build; its tapped ``layers`` give the few-shot patch features (default: the
            paper's, see ``paper_backbone``).
        scales: window sizes in patches (the paper's small and mid windows: 2 and 3).
        stride: window stride in patches (the paper: 1).
        temperature: of the softmax over the normal and anomalous text prototypes.
        sigma: Gaussian smoothing of the upsampled anomaly map, in pixels.
        class_names: words for the text prompts per category (default: the category name, ``_`` as spaces).
        preprocessing: how images become the model input (``gad.data.preprocessing.Preprocessing``); default
            ``squash`` (the whole image to the input size, bicubic). Checkpoints carry it.
    """

    train_pipeline: str | None = None
    min_shots: int = 0
    prompts: str | None = PROMPT_SET
    default_resize: ResizeRule = "squash"

    def __init__(
        self,
        backbone: ClipConfig | None = None,
        scales: Sequence[int] = (2, 3),
        stride: int = 1,
        temperature: float = 0.07,
        sigma: float = 4.0,
        class_names: dict[str, str] | None = None,
        preprocessing: Preprocessing | None = None,
    ) -> None:
        super().__init__()
        config = ClipConfig.of(backbone, paper_backbone)
        self.save_hyperparameters()
        self.hparams.update(backbone=config.as_dict(), scales=list(scales))  # plain types, as checkpoints load
        self.model: WinCLIPModel = WinCLIPModel(ClipBackbone(config), scales, stride, temperature, sigma, class_names)
        self._set_preprocessing(preprocessing)

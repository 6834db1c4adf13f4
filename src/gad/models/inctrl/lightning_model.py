"""Lightning wiring of InCTRL: trained once on a labelled auxiliary set, then scores any category from K prompts."""

from __future__ import annotations

from torch import Tensor
from torch.optim import AdamW

from gad.data.batch import Batch
from gad.data.preprocessing import Preprocessing, ResizeRule
from gad.errors import ConfigError
from gad.models.base import FewShotAnomalyModule
from gad.models.components.clip_backbone import ClipBackbone, ClipConfig
from gad.models.inctrl.loss import focal_loss
from gad.models.inctrl.torch_model import InCTRLModel

PIPELINE = "gad.models.inctrl.InCTRLTrainingPipeline"


def paper_backbone() -> ClipConfig:
    """ViT-B-16-plus-240 at 240 px, blocks 7/9/11. open_clip's ``laion400m_e32`` hub entry serves the e31 weights;
    InCTRL used the file ``vit_b_16_plus_240-laion400m_e32-699c4b84.pt``: pass its path as ``pretrained`` for
    parity with the paper."""
    return ClipConfig(model_name="ViT-B-16-plus-240", pretrained="laion400m_e32", layers=[7, 9, 11], image_size=240)


class InCTRL(FewShotAnomalyModule):
    """InCTRL (CVPR 2024): generalist image-level anomaly detection by in-context residual learning.

    Training: each balanced batch of labelled auxiliary queries comes with K same-category normal prompts per
    query (``InCTRLTrainingPipeline``); loss = focal(final score) + focal(image-residual score). The heads'
    BatchNorm normalises with the training batch's statistics in the loss, as the official code; every score that
    is reported (validation, test, predict, in any mode) uses the running statistics, so it is independent of
    the rest of the batch. Under DDP the statistics are per process (each rank's batch is itself balanced).

    Args:
        backbone: which CLIP to build and which layers to tap (default: the paper's, see ``paper_backbone``).
        adapter_reduction: bottleneck factor of the adapter psi.
        hidden: hidden widths of the eta and phi heads.
        patch_weight: weight w of the maximum patch residual in the final score (1: official equal weighting).
        sigma: Gaussian smoothing of the exposed anomaly map (the upsampled residual map), in pixels.
        class_names: words for the text prompts per category (default: the category name, ``_`` as spaces).
        focal_gamma: focusing parameter of both focal losses.
        double_sigmoid: reproduce the official loss quirk (see ``gad.models.inctrl.loss.focal_loss``).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay (the official code keeps torch's default, 0.01).
        preprocessing: how images become the model input (``gad.data.preprocessing.Preprocessing``); default
            ``shorter_side`` (shorter side to the input size, centre crop, bicubic) at the backbone's
            size, as the official code. Checkpoints carry it.
    """

    default_resize: ResizeRule = "shorter_side"
    train_pipeline = PIPELINE
    prompts = "inctrl"

    def __init__(
        self,
        backbone: ClipConfig | None = None,
        adapter_reduction: int = 4,
        hidden: tuple[int, ...] = (128, 64),
        patch_weight: float = 1.0,
        sigma: float = 4.0,
        class_names: dict[str, str] | None = None,
        focal_gamma: float = 2.0,
        double_sigmoid: bool = False,
        lr: float = 1e-3,
        weight_decay: float = 0.01,
        preprocessing: Preprocessing | None = None,
    ) -> None:
        super().__init__()
        config = ClipConfig.of(backbone, paper_backbone)
        backbone = config.as_dict()  # saved as a plain dict
        self.save_hyperparameters()
        self.model: InCTRLModel = InCTRLModel(
            ClipBackbone(config), adapter_reduction, hidden, patch_weight, sigma, class_names
        )
        self._set_preprocessing(preprocessing)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        if batch.support is None:
            raise ConfigError(
                f"InCTRL trains on queries with normal prompts: set data.init_args.train_pipeline to {PIPELINE}."
            )
        scores = self.model.score_with_support(batch.image, batch.support, batch.category, batch_statistics=True)
        options = {"gamma": self.hparams.focal_gamma, "double_sigmoid": self.hparams.double_sigmoid}
        final = focal_loss(scores.score, batch.label, **options)
        image = focal_loss(scores.image, batch.label, **options)
        loss = final + image
        size = len(batch)
        self.log("train/loss", loss, batch_size=size, prog_bar=True)
        self.log_dict({"train/loss_final": final, "train/loss_image": image}, batch_size=size)
        return loss

    def configure_optimizers(self) -> AdamW:
        return AdamW(self.model.trainable_parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

"""Lightning wiring of the training-free patch-residual baseline."""

from __future__ import annotations


from gad.data.batch import Batch
from gad.data.preprocessing import Preprocessing
from gad.messages import say
from gad.models.base import FewShotAnomalyModule
from gad.models.components.clip_backbone import ClipBackbone, ClipConfig
from gad.models.patch_residual.torch_model import PatchResidualModel


class PatchResidual(FewShotAnomalyModule):
    """Training-free baseline: ``fit`` only validates on the auxiliary set and records the run.

    Args:
        backbone: which CLIP to build and which layers to tap.
        sigma: Gaussian smoothing of the anomaly map, in pixels.
        preprocessing: how images become the model input (``gad.data.preprocessing.Preprocessing``); default
            ``squash`` at the backbone's size. Checkpoints carry it.
    """

    def __init__(
        self, backbone: ClipConfig | None = None, sigma: float = 4.0, preprocessing: Preprocessing | None = None
    ) -> None:
        super().__init__()
        config = ClipConfig.of(backbone, ClipConfig)
        backbone = config.as_dict()  # type: ignore[assignment]  # saved as a plain dict by save_hyperparameters
        self.save_hyperparameters()
        self.model = PatchResidualModel(ClipBackbone(config), sigma=sigma)
        self._set_preprocessing(preprocessing)

    def on_fit_start(self) -> None:
        say("gad: PatchResidual has nothing to train; fit validates on the auxiliary set and saves the run.")

    def training_step(self, batch: Batch, batch_idx: int) -> None:
        """Nothing to learn: returning None makes Lightning skip the optimisation step."""
        return None

    def configure_optimizers(self) -> None:
        return None

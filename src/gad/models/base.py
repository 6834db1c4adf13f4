"""What every few-shot LightningModule shares: references per category, evaluation and checkpoint hygiene."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_info

from gad.data.batch import Batch
from gad.data.datamodule import EvalStage, FewShotDataModule
from gad.errors import ConfigError
from gad.metrics.anomaly_metrics import MEAN, AnomalyMetrics
from gad.models.components.clip_backbone import ClipBackbone
from gad.models.components.few_shot import AnomalyPrediction, FewShotModel

BACKBONE_PREFIX = "model.backbone."


class FewShotAnomalyModule(pl.LightningModule):
    """Thin Lightning wiring around a ``FewShotModel`` (``self.model``).

    Before each evaluation it takes the K references per category from the datamodule, encodes them once and
    writes their manifest into the run folder; each batch is scored per category; metrics are computed per
    category and kept in ``self.results``. Pretrained frozen CLIP weights are left out of checkpoints (they are
    rebuilt from the config); randomly initialised ones are kept.
    """

    model: FewShotModel

    def __init__(self) -> None:
        super().__init__()
        self.metrics: AnomalyMetrics | None = None
        self.results: dict[str, dict[str, float]] = {}

    @property
    def backbone(self) -> ClipBackbone:
        return self.model.backbone

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if isinstance(datamodule, FewShotDataModule) and datamodule.image_size != self.backbone.image_size:
            raise ConfigError(
                f"data.image_size={datamodule.image_size} but the backbone {self.backbone.model_name!r} takes "
                f"{self.backbone.image_size} px: set --data.image_size {self.backbone.image_size} "
                f"(or the backbone's image_size to {datamodule.image_size})."
            )

    # ----- references and evaluation -------------------------------------------------------------------------
    def _start_evaluation(self, stage: EvalStage) -> None:
        datamodule: FewShotDataModule = self.trainer.datamodule
        self.model.clear_references()
        chosen = datamodule.reference_set(stage)
        if self.trainer.is_global_zero:
            saved = datamodule.save_references(stage, self.trainer.default_root_dir)
            rank_zero_info(f"gad: {chosen.shots}-shot references of {chosen.dataset} written to {saved}")
        for category, images in datamodule.reference_images(stage).items():
            self.model.set_references(category, images.to(self.device))
        self.metrics = AnomalyMetrics(list(chosen.references)).to(self.device)

    def predict_batch(self, batch: Batch) -> AnomalyPrediction:
        """Score a batch that may mix categories: each category against its own references."""
        scores = torch.empty(len(batch), device=batch.image.device)
        maps: torch.Tensor | None = None
        parts: dict[str, torch.Tensor] = {}
        for category in dict.fromkeys(batch.category):
            index = torch.tensor([i for i, c in enumerate(batch.category) if c == category], device=batch.image.device)
            out = self.model(batch.image[index], category)
            scores[index] = out.score.float()
            for name, part in out.parts.items():
                parts.setdefault(name, torch.full_like(scores, torch.nan))[index] = part.float()
            if out.anomaly_map is not None:
                if maps is None:
                    maps = torch.empty(len(batch), *out.anomaly_map.shape[1:], device=batch.image.device)
                maps[index] = out.anomaly_map.float()
        return AnomalyPrediction(score=scores, anomaly_map=maps, parts=parts)

    def _evaluate(self, batch: Batch) -> None:
        out = self.predict_batch(batch)
        assert self.metrics is not None
        self.metrics.update(self.metrics.category_index(batch.category), out.score, batch.label, out.anomaly_map, batch.mask)

    def _finish_evaluation(self, prefix: str) -> None:
        assert self.metrics is not None
        self.results = self.metrics.compute()
        for category, row in self.results.items():
            for name, value in row.items():
                key = f"{prefix}/{name}" if category == MEAN else f"{prefix}/{category}/{name}"
                self.log(key, value, rank_zero_only=True)
        self.metrics.reset()

    def on_validation_start(self) -> None:
        self._start_evaluation("validate")

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch)

    def on_validation_epoch_end(self) -> None:
        self._finish_evaluation("val")

    def on_test_start(self) -> None:
        self._start_evaluation("test")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch)

    def on_test_epoch_end(self) -> None:
        self._finish_evaluation("test")

    def on_predict_start(self) -> None:
        self._start_evaluation("predict")

    def predict_step(self, batch: Batch, batch_idx: int) -> dict[str, Any]:
        out = self.predict_batch(batch)
        return {"path": batch.path, "category": batch.category, "score": out.score, "anomaly_map": out.anomaly_map}

    # ----- checkpoints ---------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.backbone.is_pretrained:
            state = checkpoint["state_dict"]
            for key in [k for k in state if k.startswith(BACKBONE_PREFIX)]:
                del state[key]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.backbone.is_pretrained:
            own = {k: v for k, v in self.state_dict().items() if k.startswith(BACKBONE_PREFIX)}
            checkpoint["state_dict"].update(own)

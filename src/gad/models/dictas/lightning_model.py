"""Lightning wiring of DictAS: self-supervised training with the official two-phase Value-generator schedule."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor
from torch.optim import Adam, Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from gad.data.batch import Batch
from gad.data.reference_provider import EvalStage
from gad.data.resumable import batches_done
from gad.data.preprocessing import Preprocessing
from gad.messages import say
from gad.errors import ConfigError
from gad.metrics.anomaly_metrics import MEAN
from gad.models.base import FewShotAnomalyModule
from gad.models.components.clip_backbone import ClipBackbone, ClipConfig
from gad.models.components.few_shot import AnomalyPrediction
from gad.models.dictas.lookup import LookupStrategy
from gad.models.dictas.protocol import PROTOCOLS, Protocol
from gad.models.dictas.score_fusion import ScoreParts, official_scores
from gad.models.dictas.settings import InferenceSettings
from gad.models.dictas.torch_model import DictASModel

PHASE_KEY = "dictas_value_phase"
PIPELINE = "gad.models.dictas.training_data.DictASTrainingPipeline"


class DictAS(FewShotAnomalyModule):
    """DictAS (ICCV 2025): trained on normal auxiliary images, tests unseen categories from K normal references.

    Args:
        backbone: which CLIP to build and which layers to tap (paper: ViT-L-14-336, 6/12/18/24, exact GELU).
        lookup: ``sparse`` (sparsemax, the paper), ``dense`` (softmax) or ``maximum`` (one-hot argmax).
        scales: neighbourhood pooling kernels (must include 1).
        num_heads: attention heads of the Query/Key/Value generators.
        dropout: dropout inside the generators.
        test_layers: 1-based tapped layers averaged into the map at inference (default all tapped).
        test_scales: pooling kernels at inference (default ``scales``).
        sigma: Gaussian smoothing of the anomaly map, in pixels.
        alpha: weight of the CLIP text score in the image score (0: map maximum only).
        official_protocol: at test and predict, read each target dataset with the official rules for its name
            (``mvtec``, ``visa``, ``mvtec3d``, ``mpdd``, ``btad``, ``resc``, ``brats``, any case: layers, scales,
            sigma 6, alpha, rotated references for MVTec ``screw``) instead of test_layers/test_scales/sigma/alpha,
            to reproduce the paper; other datasets, and validation, keep the plain settings.
        protocol: apply the official rules of this dataset name to every evaluated dataset, whatever its name, and
            in the Detector (an imported official checkpoint keeps the protocol it was imported for); takes
            precedence over ``official_protocol`` and over test_layers/test_scales/sigma/alpha.
        normalize_test_scores: the official image score: text and map scores min-max normalised per category over
            the whole test set, then fused with alpha. Uses test-set statistics, so off by default; ``test`` only
            (``predict`` writes the unnormalised alpha * text + (1 - alpha) * map maximum).
        lambda_cqc: weight of the contrastive query constraint (paper 0.1).
        lambda_tac: weight of the text alignment constraint (paper 0.1).
        lr: Adam learning rate.
        betas: Adam betas.
        plateau_scheduler: ReduceLROnPlateau (factor 0.8, patience 2) on the epoch mean of the query loss.
        freeze_value_on_plateau: the official two-phase schedule: keep a copy of the trainable weights while the
            validation ``selection_metric`` improves; at the first epoch it does not, restore that copy, freeze
            g_V, reset the optimiser state, and from then on pass training queries through g_V (as at inference).
        selection_metric: mean validation metric that drives the schedule (official: pixel AP).
        sparsemax_topk: inference lookups find each query's sparsemax support among this many best keys (exact:
            wider supports are recomputed by sorting); ``null`` always sorts every row.
        preprocessing: how images become the model input (``gad.data.preprocessing.Preprocessing``); default
            ``squash`` (the whole image to the square, bicubic) at the backbone's
            size, as the official code. Checkpoints carry it.
    """

    train_pipeline = PIPELINE
    prompts = "dictas"

    def __init__(
        self,
        backbone: ClipConfig | None = None,
        lookup: LookupStrategy = "sparse",
        scales: tuple[int, ...] = (1, 3),
        num_heads: int = 4,
        dropout: float = 0.1,
        test_layers: list[int] | None = None,
        test_scales: list[int] | None = None,
        sigma: float = 6.0,
        alpha: float = 0.0,
        official_protocol: bool = False,
        protocol: Protocol | None = None,
        normalize_test_scores: bool = False,
        lambda_cqc: float = 0.1,
        lambda_tac: float = 0.1,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        plateau_scheduler: bool = True,
        freeze_value_on_plateau: bool = True,
        selection_metric: str = "pixel_ap",
        sparsemax_topk: int | None = 64,
        preprocessing: Preprocessing | None = None,
    ) -> None:
        super().__init__()
        config = ClipConfig.of(backbone, ClipConfig)
        backbone = config.as_dict()  # type: ignore[assignment]  # saved as a plain dict by save_hyperparameters
        self.save_hyperparameters()
        inference = InferenceSettings(
            layers=tuple(test_layers) if test_layers else None,
            scales=tuple(test_scales) if test_scales else (),
            sigma=sigma,
            alpha=alpha,
        )
        self.model: DictASModel = DictASModel(
            ClipBackbone(config),
            lookup,
            scales,
            num_heads,
            dropout,
            inference=inference,
            protocol=protocol,
            sparsemax_topk=sparsemax_topk,
        )
        self._set_preprocessing(preprocessing)
        self.value_frozen = False
        self.best_metric = -math.inf
        self._snapshot: dict[str, Tensor] | None = None
        self._epoch_query = torch.zeros(2, dtype=torch.float64)
        """(sum of query loss x batch size, items) of this epoch so far: checkpointed, so a fit resumed mid-epoch
        steps the plateau scheduler on the whole epoch's mean (Lightning does not save partial epoch logs)."""
        self.score_parts: torch.nn.ModuleList | None = None

    # ----- training ------------------------------------------------------------------------------------------
    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        if batch.support is None:
            raise ConfigError(f"DictAS trains on query/support pairs: set data.init_args.train_pipeline to {PIPELINE}.")
        losses = self.model.losses(
            batch.image,
            batch.support,
            batch.mask,
            batch.label,
            batch.category,
            query_through_value=self.value_frozen,
            lambda_cqc=self.hparams["lambda_cqc"],
            lambda_tac=self.hparams["lambda_tac"],
        )
        size = len(batch)
        self.log("train/loss", losses.loss, batch_size=size, prog_bar=True)
        terms = {"train/loss_query": losses.query, "train/loss_cqc": losses.cqc, "train/loss_tac": losses.tac}
        self.log_dict(terms, batch_size=size)
        self._epoch_query = self._epoch_query + torch.tensor(
            [losses.query.detach().item() * size, size], dtype=torch.float64
        )
        return losses.loss

    def on_train_epoch_start(self) -> None:
        if batches_done(self.trainer) >= self.trainer.num_training_batches:  # a new epoch, not one resumed part-way
            self._epoch_query = torch.zeros(2, dtype=torch.float64)

    def on_train_epoch_end(self) -> None:
        mean = self._epoch_query[0] / self._epoch_query[1].clamp(min=1)
        self.log("train/loss_query_epoch", mean.float().to(self.device), sync_dist=True)

    def configure_optimizers(self) -> Any:
        optimizer = Adam(
            self.model.trainable_parameters(include_value=not self.value_frozen),
            lr=self.hparams["lr"],
            betas=tuple(self.hparams["betas"]),
        )
        if not self.hparams["plateau_scheduler"]:
            return optimizer
        scheduler = ReduceLROnPlateau(optimizer, mode="min", factor=0.8, patience=2)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": "train/loss_query_epoch", "interval": "epoch"},
        }

    # ----- two-phase Value generator schedule ----------------------------------------------------------------
    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        if (
            self.hparams["freeze_value_on_plateau"]
            and self.trainer.state.fn == "fit"
            and not self.trainer.sanity_checking
        ):
            self.update_value_phase(self._selection_value(), self.trainer.optimizers)

    def _selection_value(self) -> float:
        name = self.hparams["selection_metric"]
        mean = self.results.get(MEAN, {})
        if name not in mean:
            raise ConfigError(
                f"selection_metric={name!r} is not among the validation metrics {sorted(mean)}; the validation set "
                "needs pixel masks for pixel_ap, or choose another metric."
            )
        return mean[name]

    def update_value_phase(self, metric: float, optimizers: Sequence[Optimizer]) -> None:
        """One validation result of the official schedule (all DDP ranks see the same synced metric).

        While the metric improves, snapshot the trainable weights; on the first epoch it does not (NaN counts as
        not improving), restore the snapshot and freeze g_V. Freezing removes g_V from the optimisers rather than
        turning its gradients off, because DDP's gradient reducer is fixed when training starts.
        """
        if self.value_frozen:
            return
        if metric > self.best_metric:
            self.best_metric = metric
            self._snapshot = {name: p.detach().clone() for name, p in self._trainable_parameters()}
            return
        if self._snapshot is not None:
            with torch.no_grad():
                for name, p in self._trainable_parameters():
                    p.copy_(self._snapshot[name])
        value = {id(p) for p in self.model.value_parameters()}
        for optimizer in optimizers:
            optimizer.state.clear()
            for group in optimizer.param_groups:
                group["params"] = [p for p in group["params"] if id(p) not in value]
        for p in self.model.value_parameters():
            p.grad = None
        self.value_frozen, self._snapshot = True, None
        say(
            f"gad: DictAS validation {self.hparams['selection_metric']} {metric:.4f} did not improve on "
            f"{self.best_metric:.4f}: restored the best weights and froze the Value generator."
        )

    def _trainable_parameters(self) -> list[tuple[str, torch.nn.Parameter]]:
        return [(n, p) for n, p in self.model.named_parameters() if not n.startswith("backbone.")]

    # ----- official test rules and test-set score normalisation -----------------------------------------------
    def evaluation_settings(self, dataset: str, stage: EvalStage) -> Mapping[str, Any]:
        """``protocol``: the hparam's, else (``official_protocol``, test and predict) the dataset name's, else none."""
        if self.hparams["protocol"]:
            return {"protocol": self.hparams["protocol"]}
        if not self.hparams["official_protocol"] or stage == "validate":
            return {"protocol": None}
        name = dataset.lower()
        if name not in PROTOCOLS:
            rank_zero_warn(f"gad: no official DictAS test rules for dataset {name!r} (known: {', '.join(PROTOCOLS)})")
        return {"protocol": name if name in PROTOCOLS else None}

    def on_test_start(self) -> None:
        super().on_test_start()
        count = len(self.dataset_names) if self.hparams["normalize_test_scores"] else 0
        self.score_parts = torch.nn.ModuleList(ScoreParts() for _ in range(count)).to(self.device)

    def predict_batch(self, batch: Batch) -> AnomalyPrediction:
        out = super().predict_batch(batch)
        if self.score_parts and self.trainer.testing and self._dataset_index is not None:
            index = self._dataset_index
            metrics, parts = self.evaluation_metrics()[index], cast(ScoreParts, self.score_parts[index])
            alpha = torch.tensor(
                [self.model.inference_settings(c).alpha for c in batch.category], device=out.score.device
            )
            parts.update(metrics.category_index(batch.category), out.parts["map"], out.parts["text"], alpha)
        return out

    def on_test_epoch_end(self) -> None:
        """With ``normalize_test_scores``, the metrics score images by the official fused scores."""
        for metrics, module in zip(self.evaluation_metrics(), self.score_parts or []):
            parts = cast(ScoreParts, module)
            if parts.update_called:
                metrics.transform_scores(official_scores(parts.compute()))
            parts.reset()
        super().on_test_epoch_end()

    # ----- checkpoints ---------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint[PHASE_KEY] = {
            "value_frozen": self.value_frozen,
            "best_metric": self.best_metric,
            "snapshot": self._snapshot,
            "epoch_query": self._epoch_query.clone(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        phase = checkpoint.get(PHASE_KEY)
        if phase is not None:
            self.value_frozen, self.best_metric = phase["value_frozen"], phase["best_metric"]
            self._snapshot = phase["snapshot"]
            self._epoch_query = phase.get("epoch_query", torch.zeros(2, dtype=torch.float64))

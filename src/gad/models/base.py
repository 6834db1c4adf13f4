"""What every few-shot LightningModule shares: references per category, evaluation and checkpoint hygiene."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_info

from gad.data.batch import Batch
from gad.data.datamodule import EvalStage, FewShotDataModule
from gad.data.preprocessing import Preprocessing, ResizeRule
from gad.data.prompt_files import ModelInput
from gad.data.reference_provider import EvaluationReferences, ReferenceProvider
from gad.data.references import write_manifest
from gad.errors import ConfigError
from gad.metrics.anomaly_metrics import MEAN, AnomalyMetrics, MetricSettings, nanmean
from gad.models.components.clip_backbone import ClipBackbone
from gad.models.components.few_shot import AnomalyPrediction, FewShotModel
from gad.models.contract import MethodContract

BACKBONE_PREFIX = "model.backbone."
# Written into every checkpoint so that it can be loaded without its config (``gad.inference.Detector``):
# the LightningModule's class, the layout version of gad checkpoints and the method's contract (not in the
# hyperparameters, which Lightning and the Detector hand back to ``__init__``; older checkpoints derive it).
CHECKPOINT_KEY = "gad"
CHECKPOINT_FORMAT = 1


class FewShotAnomalyModule(pl.LightningModule):
    """Thin Lightning wiring around a ``FewShotModel`` (``self.model``).

    Before each evaluation it takes the K references per category from its reference provider (``references``,
    default the trainer's datamodule), encodes them once per dataset with the dataset's settings and writes their
    manifest into the run folder (once while it does not change); each batch is scored per category; metrics are
    computed per
    category of each evaluated dataset and kept in ``self.results_by_dataset`` and, flat, in ``self.results``
    (``self.results["mean"]`` is the mean over datasets; why any is undefined in ``self.undefined_by_dataset``),
    as ``self.metric_settings`` say (the CLI's ``--metrics.*``). Pretrained frozen CLIP weights are left out of
    checkpoints (they are rebuilt from the config); randomly initialised ones are kept.

    Each method declares its contract (``contract``, ``gad.models.contract.MethodContract``) through the class
    attributes below and its ``preprocessing`` argument (default ``default_resize`` at the backbone's size, kept in
    the hyperparameters); every checkpoint carries the contract, and ``setup`` hands it to the datamodule.
    """

    model: FewShotModel
    default_resize: ResizeRule = "squash"
    train_pipeline: str | None = None
    """Class path of the training pipeline the method trains with; ``None``: it does not train."""
    min_shots: int = 1
    """The fewest normal references per category it scores with (0: zero-shot)."""
    prompts: str | None = None
    """Name of its text-prompt set; ``None``: no text."""

    def __init__(self) -> None:
        super().__init__()
        self._reference_provider: ReferenceProvider | None = None
        self._evaluated: list[list[EvaluationReferences]] = []
        self.metrics: torch.nn.ModuleList | None = None
        self.results: dict[str, dict[str, float]] = {}
        self.results_by_dataset: dict[str, dict[str, dict[str, float]]] = {}
        self.undefined_by_dataset: dict[str, dict[str, dict[str, str]]] = {}
        self.metric_settings = MetricSettings()

    @property
    def backbone(self) -> ClipBackbone:
        return self.model.backbone

    @property
    def preprocessing(self) -> Preprocessing:
        """How images become this model's input (evaluation, training, the Detector and ONNX export)."""
        return self._preprocessing

    def _set_preprocessing(self, preprocessing: Preprocessing | dict | None) -> None:
        """Resolve the ``preprocessing`` argument once ``self.model`` exists (its size is the backbone's) and
        store it in the hyperparameters as a plain dict."""
        size = self.backbone.image_size
        if preprocessing is None:
            preprocessing = Preprocessing(size, self.default_resize)
        elif isinstance(preprocessing, dict):
            preprocessing = Preprocessing.from_dict(preprocessing)
        if preprocessing.image_size != size:
            raise ConfigError(
                f"{type(self).__name__}: preprocessing.image_size={preprocessing.image_size} but the backbone "
                f"{self.backbone.model_name!r} takes {size} px: set preprocessing.image_size to {size} (or the "
                f"backbone's image_size to {preprocessing.image_size})."
            )
        self._preprocessing = preprocessing
        self.hparams["preprocessing"] = preprocessing.as_dict()

    @property
    def contract(self) -> MethodContract:
        """What this method promises the datamodule, the Detector and the CLI (kept in every checkpoint)."""
        cls = type(self)
        return MethodContract(self.preprocessing, cls.train_pipeline, cls.min_shots, cls.prompts)

    @property
    def references(self) -> ReferenceProvider:
        """Where evaluation takes its references: the one set here, else the trainer's datamodule."""
        if self._reference_provider is not None:
            return self._reference_provider
        datamodule = getattr(self._trainer, "datamodule", None)
        if isinstance(datamodule, ReferenceProvider):
            return datamodule
        raise ConfigError(
            f"{type(self).__name__} has no references: give the Trainer a FewShotDataModule, or set "
            "module.references = gad.data.reference_provider.ImageReferences(...) before trainer.test(...)."
        )

    @references.setter
    def references(self, provider: ReferenceProvider) -> None:
        self._reference_provider = provider

    def setup(self, stage: str) -> None:
        """Hand the contract to the datamodule (Lightning sets the module up after the datamodule and before any
        dataloader is requested): its preprocessing and training pipeline, and K checked against ``min_shots``."""
        datamodule = getattr(self.trainer, "datamodule", None)
        if isinstance(datamodule, FewShotDataModule):
            self.hand_contract_to(datamodule)

    def hand_contract_to(self, datamodule: FewShotDataModule) -> None:
        """Check K against ``min_shots`` and the training pipeline, then make the datamodule follow the contract;
        the CLI calls it as soon as both exist, so that a refused run leaves no run folder behind."""
        contract, method = self.contract, type(self).__name__
        contract.check_shots(datamodule.shots, method)
        datamodule.follow(contract.preprocessing, contract.training_pipeline(datamodule.train_pipeline, method))

    def evaluation_settings(self, dataset: str, stage: EvalStage) -> Mapping[str, Any]:
        """The method's settings for an evaluated dataset, under those its references bring (default none)."""
        return {}

    # ----- references and evaluation -------------------------------------------------------------------------
    def _start_evaluation(self, stage: EvalStage) -> None:
        """Take the reference sets, write their manifests and set up one metric collection per evaluated dataset."""
        provider = self.references
        self._stage = stage
        self._dataset_index: int | None = None
        self.dataset_names = provider.evaluated_datasets(stage)
        model_input = ModelInput.of(self.backbone)
        self._evaluated = []
        for index in range(len(self.dataset_names)):
            sets = [self._with_settings(r, stage) for r in provider.reference_sets(stage, index, model_input)]
            for chosen in sets:
                self._write_manifest(chosen)
            self._evaluated.append(sets)
        collections = [AnomalyMetrics(sets[0].categories, self.metric_settings) for sets in self._evaluated]
        self.metrics = torch.nn.ModuleList(collections).to(self.device)

    def _with_settings(self, chosen: EvaluationReferences, stage: EvalStage) -> EvaluationReferences:
        self.contract.check_shots(chosen.shots, type(self).__name__)
        return replace(chosen, settings={**self.evaluation_settings(chosen.dataset, stage), **chosen.settings})

    def _write_manifest(self, chosen: EvaluationReferences) -> None:
        """Beside the results, said once: a fit validating on the same references every epoch writes them once."""
        if chosen.manifest is None or not self.trainer.is_global_zero:
            return
        saved = write_manifest(chosen.manifest, Path(self.trainer.default_root_dir))
        if saved is not None:
            rank_zero_info(f"gad: {chosen.shots}-shot references of {chosen.dataset} written to {saved}")

    def _use_dataset(self, index: int) -> None:
        """Encode the references of one evaluated dataset (once, when its dataloader starts)."""
        if self._dataset_index == index:
            return
        (chosen,) = self._evaluated[index]  # one (K, seed) set per dataset in this evaluation loop
        self.model.clear_references()
        for category, images in chosen.images.items():
            self.model.set_references(category, images.to(self.device), chosen.settings)
        self._dataset_index = index

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

    def _evaluate(self, batch: Batch, dataloader_idx: int) -> AnomalyPrediction:
        """Score a batch into the metrics of its dataset; the prediction goes on to callbacks (overlays)."""
        self._use_dataset(dataloader_idx)
        out = self.predict_batch(batch)
        metrics = self.evaluation_metrics()[dataloader_idx]
        metrics.update(
            metrics.category_index(batch.category), out.score, batch.label, out.anomaly_map, batch.mask, batch.index
        )
        return out

    def _finish_evaluation(self, prefix: str) -> None:
        """Compute and log, under keys that do not depend on how many datasets are evaluated,
        ``{prefix}/{metric}`` (mean over datasets), ``{prefix}/{dataset}/{metric}`` (mean over its categories) and
        ``{prefix}/{dataset}/{category}/{metric}``; keep them in ``results_by_dataset`` and ``results``."""
        collections = self.evaluation_metrics()
        self.results_by_dataset = {name: m.compute() for name, m in zip(self.dataset_names, collections)}
        self.undefined_by_dataset = {
            name: m.undefined for name, m in zip(self.dataset_names, collections) if m.undefined
        }
        self.results = flatten_results(self.results_by_dataset)
        for key, row in prefixed_results(self.results_by_dataset).items():
            for name, value in row.items():
                # computed from every rank's gathered state, so already global: sync_dist says so, and with
                # rank_zero_only Lightning reduces nothing (no DDP warning, no all-reduce of equal values)
                logged = f"{prefix}/{name}" if key == MEAN else f"{prefix}/{key}/{name}"
                self.log(logged, value, rank_zero_only=True, sync_dist=True)
        for metrics in collections:
            metrics.reset()

    def evaluation_metrics(self) -> list[AnomalyMetrics]:
        """One metric collection per evaluated dataset (set up when an evaluation starts)."""
        assert self.metrics is not None, "no evaluation has started"
        return [cast(AnomalyMetrics, metrics) for metrics in self.metrics]

    def on_validation_start(self) -> None:
        self._start_evaluation("validate")

    # The prediction goes on to callbacks as ``outputs``; Lightning types step outputs as Tensor | Mapping | None.
    def validation_step(  # type: ignore[override]
        self, batch: Batch, batch_idx: int, dataloader_idx: int = 0
    ) -> AnomalyPrediction:
        return self._evaluate(batch, dataloader_idx)

    def on_validation_epoch_end(self) -> None:
        self._finish_evaluation("val")

    def on_test_start(self) -> None:
        self._start_evaluation("test")

    # The prediction goes on to callbacks as ``outputs``; Lightning types step outputs as Tensor | Mapping | None.
    def test_step(  # type: ignore[override]
        self, batch: Batch, batch_idx: int, dataloader_idx: int = 0
    ) -> AnomalyPrediction:
        return self._evaluate(batch, dataloader_idx)

    def on_test_epoch_end(self) -> None:
        self._finish_evaluation("test")

    def on_predict_start(self) -> None:
        self._start_evaluation("predict")

    def predict_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        self._use_dataset(dataloader_idx)
        out = self.predict_batch(batch)
        return {
            "dataset": self.dataset_names[dataloader_idx],
            "path": batch.path,
            "category": batch.category,
            "score": out.score,
            "anomaly_map": out.anomaly_map,
        }

    # ----- checkpoints ---------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        cls = type(self)
        checkpoint[CHECKPOINT_KEY] = {
            "class_path": f"{cls.__module__}.{cls.__qualname__}",
            "format": CHECKPOINT_FORMAT,
            "contract": self.contract.as_dict(),
        }
        if self.backbone.is_pretrained:
            state = checkpoint["state_dict"]
            for key in [k for k in state if k.startswith(BACKBONE_PREFIX)]:
                del state[key]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.backbone.is_pretrained:
            own = {k: v for k, v in self.state_dict().items() if k.startswith(BACKBONE_PREFIX)}
            checkpoint["state_dict"].update(own)


def flatten_results(by_dataset: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """One dataset: its own table. Several: as ``prefixed_results``."""
    if len(by_dataset) == 1:
        return dict(next(iter(by_dataset.values())))
    return prefixed_results(by_dataset)


def prefixed_results(by_dataset: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """``dataset/category`` and ``dataset`` rows, and ``mean`` over datasets, whatever the number of datasets."""
    flat: dict[str, dict[str, float]] = {}
    for dataset, table in by_dataset.items():
        for key, row in table.items():
            flat[dataset if key == MEAN else f"{dataset}/{key}"] = row
    means = [table[MEAN] for table in by_dataset.values() if MEAN in table]
    if means:
        names = dict.fromkeys(n for row in means for n in row)
        flat[MEAN] = {n: nanmean([row.get(n, math.nan) for row in means]) for n in names}
    return flat

"""Prints the per-category table of a validate/test run, writes it into the run folder and reports it to wandb."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_only
from rich.console import Console
from rich.markdown import Markdown

from gad.callbacks.extreme_images import ExtremeImages
from gad.data.batch import Batch
from gad.data.datamodule import EvalStage, FewShotDataModule
from gad.metrics.undefined import undefined_lines
from gad.models.base import FewShotAnomalyModule
from gad.models.components.few_shot import AnomalyPrediction
from gad.reporting import results_markdown, write_results
from gad.tracking import log_evaluation, wandb_loggers


class ResultsWriter(pl.Callback):
    """After ``validate`` or ``test`` (not the validations inside ``fit``): table on screen, ``results.{json,csv,md}``
    beside the reference manifests, and with a wandb logger the per-category tables, overlays of the best and worst
    test images and those files as an artifact.

    Args:
        overlays: best and worst test images per kind and dataset to render (anomaly map over the image); 0: none.
            Kept from the first process only under DDP.
        save_overlays: also write them as PNGs under ``overlays/`` in the command's folder.
    """

    def __init__(self, overlays: int = 4, save_overlays: bool = False) -> None:
        self.save_overlays = save_overlays
        self.extremes = ExtremeImages(overlays)

    def _wants_overlays(self, trainer: pl.Trainer) -> bool:
        return self.extremes.count > 0 and (self.save_overlays or bool(wandb_loggers(trainer)))

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._keep(trainer, pl_module, outputs, batch, dataloader_idx)

    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if trainer.state.fn == "validate":
            self._keep(trainer, pl_module, outputs, batch, dataloader_idx)

    def _keep(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Batch, index: int) -> None:
        if (
            trainer.is_global_zero
            and isinstance(outputs, AnomalyPrediction)
            and outputs.anomaly_map is not None
            and isinstance(pl_module, FewShotAnomalyModule)
            and self._wants_overlays(trainer)
        ):
            self.extremes.update(pl_module.dataset_names[index], batch, outputs.score, outputs.anomaly_map)

    @rank_zero_only
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn == "validate":
            self._report(trainer, pl_module, "validate")

    @rank_zero_only
    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._report(trainer, pl_module, "test")

    def _report(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: EvalStage) -> None:
        if not isinstance(pl_module, FewShotAnomalyModule) or not pl_module.results_by_dataset:
            return
        folder = Path(trainer.default_root_dir)
        context: dict = {"stage": stage, "model": type(pl_module).__name__}
        datamodule = getattr(trainer, "datamodule", None)  # set by the Trainer while it runs (not declared on it)
        if isinstance(datamodule, FewShotDataModule):
            chosen = [datamodule.reference_set(stage, i) for i in range(len(datamodule.sources(stage)))]
            context |= {
                "shots": datamodule.shots,
                "seed": datamodule.seed,
                "references": {c.dataset: c.source for c in chosen},
            }
        context["title"] = " · ".join(f"{k} {context[k]}" for k in ("model", "shots", "seed") if k in context)
        paths = write_results(pl_module.results_by_dataset, folder, context, pl_module.undefined_by_dataset)
        overlays = self.extremes.overlays()
        self.extremes.clear()
        if self.save_overlays:
            paths += _write_pngs(overlays, folder / "overlays")
        manifests = sorted(folder.glob("references_*.json"))
        log_evaluation(trainer, stage, pl_module.results_by_dataset, overlays, paths + manifests, folder)
        console = Console(width=None if Console().is_terminal else 160)
        console.print(Markdown(results_markdown(pl_module.results_by_dataset, context["title"])))
        for line in undefined_lines(pl_module.undefined_by_dataset):
            console.print(f"gad: {line} (shown as -, null in results.json)", soft_wrap=True, markup=False)
        console.print(f"gad: results written to {folder}", soft_wrap=True)


def _write_pngs(overlays: dict[str, list], folder: Path) -> list[Path]:
    written = []
    for key, images in overlays.items():
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        for number, overlay in enumerate(images):
            path = folder / f"{key}_{number}_{Path(overlay.path).stem}.png"
            cv2.imwrite(str(path), cv2.cvtColor(overlay.image, cv2.COLOR_RGB2BGR))
            written.append(path)
    return written

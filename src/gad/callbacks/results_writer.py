"""Prints the per-category table of a validate/test run, writes it into the run folder and reports it to wandb."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_only
from rich.console import Console
from rich.markdown import Markdown

from gad.callbacks.calibration import calibrate
from gad.callbacks.extreme_images import ExtremeImages
from gad.data.batch import Batch
from gad.data.datamodule import EvalStage, FewShotDataModule
from gad.inference.threshold import Thresholds, check_fpr
from gad.metrics.undefined import undefined_lines
from gad.models.base import FewShotAnomalyModule
from gad.models.components.few_shot import AnomalyPrediction
from gad.report.records import TestRecords
from gad.report.wandb_logging import log_report
from gad.report.writer import write_report
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
        report: after ``test``, write the visual report under ``report/`` (``report.html``: every test image per
            category by score, panels, ROC/PR curves and score histograms, per-defect results; see
            ``gad.report.writer``), and log its curves and tables to wandb.
        image_fpr: the report's image threshold flags at most this share of held-out normal images.
        pixel_fpr: its pixel threshold (the predicted masks) flags at most this share of their pixels.
        calibration: held-out normal images per category (normal training images that are not references) the
            thresholds are chosen from; 0: no thresholds.
        report_side: the side (pixels) at which the report keeps and draws each test image.
    """

    def __init__(
        self,
        overlays: int = 4,
        save_overlays: bool = False,
        report: bool = True,
        image_fpr: float = 0.05,
        pixel_fpr: float = 0.01,
        calibration: int = 8,
        report_side: int = 224,
    ) -> None:
        check_fpr(image_fpr, "results.image_fpr")
        check_fpr(pixel_fpr, "results.pixel_fpr")
        self.save_overlays = save_overlays
        self.extremes = ExtremeImages(overlays)
        self.report = report
        self.image_fpr, self.pixel_fpr, self.calibration = image_fpr, pixel_fpr, calibration
        self.records = TestRecords(report_side)
        self.thresholds: dict[str, dict[str, Thresholds]] = {}
        self.cost = dict.fromkeys(("calibration", "records", "writing"), 0.0)  # CPU seconds the report took

    def _wants_overlays(self, trainer: pl.Trainer) -> bool:
        return self.extremes.count > 0 and (self.save_overlays or bool(wandb_loggers(trainer)))

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.records.clear()
        self.thresholds = {}
        self.cost = dict.fromkeys(("calibration", "records", "writing"), 0.0)

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
        if self.report and trainer.is_global_zero and isinstance(pl_module, FewShotAnomalyModule):
            if isinstance(outputs, AnomalyPrediction):
                dataset = pl_module.dataset_names[dataloader_idx]
                start = time.process_time()
                self._calibrate(trainer, pl_module, dataloader_idx, dataset)
                middle = time.process_time()
                self.records.update(dataset, batch, outputs.score, outputs.anomaly_map)
                self.cost["calibration"] += middle - start
                self.cost["records"] += time.process_time() - middle

    def _calibrate(self, trainer: pl.Trainer, pl_module: FewShotAnomalyModule, index: int, dataset: str) -> None:
        """Thresholds of a dataset, once, while the module holds its references (after its first test batch)."""
        datamodule = getattr(trainer, "datamodule", None)
        if dataset in self.thresholds or self.calibration < 1 or not isinstance(datamodule, FewShotDataModule):
            return
        with trainer.precision_plugin.test_step_context():  # scored in the test images' precision (bf16, 16-mixed)
            self.thresholds[dataset] = calibrate(
                pl_module, datamodule, "test", index, self.calibration, self.image_fpr, self.pixel_fpr
            )

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
        if stage == "test" and self.report and self.records.by_dataset:
            self._write_report(trainer, pl_module, folder, context, console)
        console.print(f"gad: results written to {folder}", soft_wrap=True)

    def _write_report(
        self, trainer: pl.Trainer, pl_module: FewShotAnomalyModule, folder: Path, context: dict, console: Console
    ) -> None:
        report_context = {k: v for k, v in context.items() if k != "title"}
        report_context |= {"image_fpr": self.image_fpr, "pixel_fpr": self.pixel_fpr, "calibration": self.calibration}
        start = time.process_time()
        notes = []
        if trainer.world_size > 1:
            notes.append("DDP: the report shows the images of the first process only")
        if getattr(pl_module.hparams, "normalize_test_scores", False):
            notes.append(
                "its image scores are the model's, before the test-set normalisation (normalize_test_scores) that "
                "results.json uses"
            )
        if notes:
            report_context["note"] = "; ".join(notes)
        files = write_report(
            self.records.by_dataset,
            pl_module.results_by_dataset,
            self.thresholds,
            folder,
            context["title"],
            report_context,
        )
        log_report(trainer, files)
        if line := _weak_thresholds_line(self.thresholds, self.image_fpr):
            console.print(line, soft_wrap=True, markup=False)
        self.records.clear()
        self.thresholds = {}
        self.cost["writing"] = time.process_time() - start
        cost = ", ".join(f"{k} {v:.1f} s" for k, v in self.cost.items())
        console.print(f"gad: report written to {files.html} (CPU time: {cost})", soft_wrap=True)


def _write_pngs(overlays: dict[str, list], folder: Path) -> list[Path]:
    written = []
    for key, images in overlays.items():
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        for number, overlay in enumerate(images):
            path = folder / f"{key}_{number}_{Path(overlay.path).stem}.png"
            cv2.imwrite(str(path), cv2.cvtColor(overlay.image, cv2.COLOR_RGB2BGR))
            written.append(path)
    return written


def _weak_thresholds_line(thresholds: dict[str, dict[str, Thresholds]], fpr: float) -> str:
    """One line for every category whose image threshold is simply its normals' maximum (details in the report)."""
    weak = {
        f"{dataset}/{category}": chosen.image
        for dataset, by_category in thresholds.items()
        for category, chosen in by_category.items()
        if chosen.image is not None and chosen.image.too_few_normals
    }
    if not weak:
        return ""
    counts = sorted({t.normals for t in weak.values()})
    normals = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    needed = next(iter(weak.values())).needed
    return (
        f"gad: report: the image thresholds of {', '.join(weak)} are the highest score of their {normals} held-out "
        f"normal images, too few for a false-positive rate of {fpr:g} (at least {needed} needed: "
        "--results.calibration, --results.image_fpr); new normal images exceed it about 1 in "
        f"{counts[0] + 1} times."
    )

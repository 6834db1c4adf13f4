"""Prints the per-category table of a validate/test run and writes it into the run folder."""

from __future__ import annotations

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_only
from rich.console import Console
from rich.markdown import Markdown

from gad.data.datamodule import FewShotDataModule
from gad.models.base import FewShotAnomalyModule
from gad.reporting import results_markdown, write_results


class ResultsWriter(pl.Callback):
    """After ``validate`` or ``test`` (not the validations inside ``fit``): table on screen, files on disk."""

    @rank_zero_only
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn == "validate":
            self._report(trainer, pl_module, "validate")

    @rank_zero_only
    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._report(trainer, pl_module, "test")

    def _report(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not isinstance(pl_module, FewShotAnomalyModule) or not pl_module.results_by_dataset:
            return
        context: dict = {"stage": stage, "model": type(pl_module).__name__}
        datamodule = trainer.datamodule
        if isinstance(datamodule, FewShotDataModule):
            chosen = [datamodule.reference_set(stage, i) for i in range(len(datamodule.sources(stage)))]
            context |= {
                "shots": datamodule.shots,
                "seed": datamodule.seed,
                "references": {c.dataset: c.source for c in chosen},
            }
        context["title"] = " · ".join(f"{k} {context[k]}" for k in ("model", "shots", "seed") if k in context)
        paths = write_results(pl_module.results_by_dataset, trainer.default_root_dir, context)
        console = Console()
        console.print(Markdown(results_markdown(pl_module.results_by_dataset, context["title"])))
        console.print(f"gad: results written to {paths[0].parent}", soft_wrap=True)

"""Writes the image scores of ``gad predict`` as a CSV in the command's folder."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import BasePredictionWriter


class PredictionWriter(BasePredictionWriter):
    """One row per image: dataset, category, path, score. Each DDP process writes its own file."""

    def __init__(self) -> None:
        super().__init__(write_interval="batch")
        self._rows: list[tuple[str, str, str, float]] = []

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._rows = []

    def write_on_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        prediction: dict[str, Any],
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        scores = prediction["score"].tolist()
        self._rows += [
            (prediction["dataset"], c, p, s) for c, p, s in zip(prediction["category"], prediction["path"], scores)
        ]

    def on_predict_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        name = "predictions.csv" if trainer.world_size == 1 else f"predictions_rank{trainer.global_rank}.csv"
        path = Path(trainer.default_root_dir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["dataset", "category", "path", "score"])
            writer.writerows(self._rows)
        print(f"gad predict: {len(self._rows)} image scores written to {path}")

"""Weights & Biases: how runs are named, grouped and tagged, and what an evaluation logs (tables, overlays, files).

Nothing here imports wandb unless a ``WandbLogger`` is in use, so ``logger: false`` runs never touch it.
"""

from __future__ import annotations

import netrc
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import WandbLogger

from gad.reporting import metric_names

VERSIONED = ("gad", "torch", "lightning", "open_clip_torch", "torchmetrics", "wandb")


@dataclass(frozen=True)
class RunIdentity:
    """What a run is: the fields wandb names, groups and tags it by."""

    command: str
    method: str
    auxiliary: str
    target: str
    shots: int
    seed: int

    @property
    def name(self) -> str:
        if self.command == "fit":
            return f"fit-{self.method}-{self.auxiliary}"
        return f"{self.command}-{self.method}-{self.auxiliary}-to-{self.target}-k{self.shots}-seed{self.seed}"

    @property
    def group(self) -> str:
        """A trained model and all its evaluations share a group: method and auxiliary set."""
        return f"{self.method}-{self.auxiliary}"

    @property
    def tags(self) -> list[str]:
        return [self.method, f"aux:{self.auxiliary}", f"target:{self.target}", f"k{self.shots}", f"seed{self.seed}"]

    def as_config(self) -> dict[str, str | int]:
        return {k: getattr(self, k) for k in ("command", "method", "auxiliary", "target", "shots", "seed")}


def has_api_key() -> bool:
    """An API key in ``WANDB_API_KEY`` or in ~/.netrc (``wandb login``)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def silence_wandb() -> None:
    """No wandb banners (tracking, syncing, where the files go) nor warnings about Lightning's settings; errors
    still show. wandb reads ``WANDB_SILENT`` when a run starts, but warns about its settings before that."""
    import wandb

    os.environ.setdefault("WANDB_SILENT", "true")
    if os.environ["WANDB_SILENT"].lower() == "true":
        wandb.termsetup(wandb.Settings(silent=True), None)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in VERSIONED:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def wandb_loggers(trainer: Trainer) -> list[WandbLogger]:
    return [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]


def log_config(trainer: Trainer, config: dict, identity: RunIdentity | None) -> None:
    """The resolved config, the run identity and the package versions into each wandb run's config."""
    for logger in wandb_loggers(trainer):
        logger.experiment.config.update(
            {"cli": config, "run": identity.as_config() if identity else {}, "versions": versions()},
            allow_val_change=True,
        )


def log_evaluation(
    trainer: Trainer,
    stage: str,
    by_dataset: dict[str, dict[str, dict[str, float]]],
    overlays: dict[str, list],
    files: list[Path],
    root: Path,
) -> list:
    """Per-dataset ``wandb.Table`` of the per-category results, overlay images, and the result and manifest files
    as one artifact per wandb run (returned; files named by their path under ``root``)."""
    loggers = wandb_loggers(trainer)
    if not loggers:
        return []
    import wandb

    artifacts = []
    prefix = "val" if stage == "validate" else stage
    for logger in loggers:
        run = logger.experiment
        logged: dict = {}
        for dataset, table in by_dataset.items():
            names = metric_names(table)
            rows = [[category, *(row.get(n, np.nan) for n in names)] for category, row in table.items()]
            logged[f"{prefix}/{dataset}/table"] = wandb.Table(columns=["category", *names], data=rows)
        for key, images in overlays.items():
            logged[f"{prefix}/overlays/{key}"] = [wandb.Image(o.image, caption=o.caption) for o in images]
        run.log(logged)
        artifact = wandb.Artifact(f"{stage}-results-{run.id}", type="results")
        for path in files:
            artifact.add_file(str(path), name=str(path.relative_to(root)))
        artifacts.append(run.log_artifact(artifact))
    return artifacts

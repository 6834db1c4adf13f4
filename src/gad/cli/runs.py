"""Run folders: where a command writes, and which run ``gad test`` picks when given nothing else."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from gad.errors import GadError

RUNS_ENV = "GAD_RUNS_DIR"
OUTPUT_ENV = "GAD_OUTPUT_DIR"  # hands the folder chosen by rank 0 to the DDP processes it launches
CONFIG_NAME = "config.yaml"


class NoRunError(GadError, FileNotFoundError):
    """No finished run to pick."""


def runs_root() -> Path:
    return Path(os.environ.get(RUNS_ENV, "runs"))


def new_output_dir(parent: Path, name: str) -> Path:
    """A fresh folder ``parent/<timestamp>_<name>``; DDP child processes reuse the one of rank 0."""
    if os.environ.get("LOCAL_RANK", "0") != "0" and os.environ.get(OUTPUT_ENV):
        return Path(os.environ[OUTPUT_ENV])
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = parent / f"{stamp}_{name}"
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = parent / f"{stamp}_{name}-{suffix}"
    os.environ[OUTPUT_ENV] = str(folder)
    return folder


def find_checkpoint(run: Path) -> Path | None:
    """The run's best checkpoint (``best*.ckpt``), else ``last.ckpt``, else its newest checkpoint."""
    found = sorted(run.rglob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    for wanted in (lambda p: p.name.startswith("best"), lambda p: p.name.startswith("last"), lambda p: True):
        matches = [p for p in found if wanted(p)]
        if matches:
            return matches[-1]
    return None


def run_checkpoint(folder: Path) -> Path:
    """The checkpoint of a run folder given by the user (``--run``)."""
    checkpoint = find_checkpoint(folder) if (folder / CONFIG_NAME).is_file() else None
    if checkpoint is None:
        raise NoRunError(f"--run {folder}: not a finished gad run (needs {CONFIG_NAME} and a checkpoint).")
    return checkpoint


def latest_run(root: Path | None = None) -> tuple[Path, Path]:
    """(run folder, checkpoint) of the most recent ``fit`` run under ``root`` that saved a checkpoint."""
    root = root or runs_root()
    runs = sorted(root.glob(f"*/{CONFIG_NAME}"), key=lambda p: p.stat().st_mtime, reverse=True) if root.is_dir() else []
    for config in runs:
        checkpoint = find_checkpoint(config.parent)
        if checkpoint is not None:
            return config.parent, checkpoint
    raise NoRunError(
        f"No finished run (a folder with {CONFIG_NAME} and a checkpoint) under {root.resolve()}. Train one first, "
        f"e.g. `gad fit --config configs/quickstart.yaml`, or pass --config and --ckpt_path (or --run FOLDER)."
    )


def run_of_checkpoint(checkpoint: Path) -> Path:
    """The run folder a checkpoint belongs to (the one holding ``config.yaml``)."""
    for parent in checkpoint.resolve().parents:
        if (parent / CONFIG_NAME).is_file():
            return parent
    return checkpoint.resolve().parent

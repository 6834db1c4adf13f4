"""Reading and writing checkpoint files safely: tensors and plain settings only, never pickled code.

Checkpoints are what users send each other, so every one gad reads (its own, Lightning's, the authors' released
weights) is loaded with ``torch.load(..., weights_only=True)``, and every one gad writes holds plain types only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from gad.errors import GadError
from gad.models.base import CHECKPOINT_FORMAT, CHECKPOINT_KEY, FewShotAnomalyModule
from gad.torch_files import load_plain


# Model classes a checkpoint may name; importing a module runs its code, so other packages need the user's word.
TRUSTED_MODULES = ("gad",)
TRUSTED_ENV = "GAD_TRUSTED_MODULES"


class CheckpointError(GadError, ValueError):
    """A checkpoint that is missing, unreadable, unsafe, not gad's, of a newer gad, or whose weights do not fit."""


def read_torch_file(path: str | Path, expected: str = "a .ckpt file written by gad", mmap: bool = False) -> Any:
    """The content of a ``torch.save`` file, loaded without running any code it may carry (``mmap``: tensors are
    mapped, not read, for a look at the settings)."""
    return load_plain(path, CheckpointError, expected, mmap)


def check_format(checkpoint: Any, path: str | Path) -> dict[str, Any]:
    """The gad metadata of a Lightning checkpoint; a newer gad's layout is refused."""
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not a Lightning checkpoint (no state_dict).")
    info = checkpoint.get(CHECKPOINT_KEY) or {}
    if not isinstance(info, dict) or not isinstance(info.get("format", CHECKPOINT_FORMAT), int):
        raise CheckpointError(f"{path}: its gad metadata is not gad's (expected a format number).")
    if info.get("format", CHECKPOINT_FORMAT) > CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} was written by a newer gad (checkpoint format {info['format']}; this gad reads up to "
            f"{CHECKPOINT_FORMAT}): upgrade gad."
        )
    return info


def class_path_of(checkpoint: dict[str, Any]) -> str | None:
    """The LightningModule class a checkpoint holds (gad metadata, else Lightning's hyperparameters)."""
    info = checkpoint.get(CHECKPOINT_KEY) or {}
    return info.get("class_path") or (checkpoint.get("hyper_parameters") or {}).get("_class_path")


def checkpoint_class(path: str | Path) -> str:
    """The class path of the gad model in a checkpoint file, after checking that it is safe and not newer."""
    checkpoint = read_torch_file(path, mmap=True)
    check_format(checkpoint, path)
    class_path = class_path_of(checkpoint)
    if not class_path:
        raise CheckpointError(
            f"{path} does not say which gad model it holds: it was not written by gad fit (or a Trainer running a "
            "gad model)."
        )
    trusted = (*TRUSTED_MODULES, *filter(None, os.environ.get(TRUSTED_ENV, "").split(",")))
    if not isinstance(class_path, str) or not class_path.startswith(tuple(f"{m.strip()}." for m in trusted)):
        raise CheckpointError(
            f"{path} names the model class {class_path!r}, outside gad: its module is not imported, since importing "
            f"runs its code. If you trust that package, add it to ${TRUSTED_ENV} (comma-separated module names)."
        )
    return class_path


def write_checkpoint(module: FewShotAnomalyModule, path: str | Path, **metadata: Any) -> Path:
    """Save ``module`` as ``gad fit`` does (``state_dict``, ``hyper_parameters`` with ``_class_path``, gad
    metadata), plus plain ``metadata`` under the gad key."""
    cls = type(module)
    checkpoint: dict[str, Any] = {
        "state_dict": module.state_dict(),
        "hyper_parameters": {**module.hparams, "_class_path": f"{cls.__module__}.{cls.__qualname__}"},
        "pytorch-lightning_version": pl.__version__,
    }
    module.on_save_checkpoint(checkpoint)
    checkpoint[CHECKPOINT_KEY].update(metadata)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)
    return path

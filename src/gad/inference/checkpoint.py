"""Loading a trained gad model from its checkpoint alone (no config, no datamodule, no Trainer)."""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
import yaml

from gad.errors import GadError
from gad.models.base import CHECKPOINT_FORMAT, CHECKPOINT_KEY, FewShotAnomalyModule


class CheckpointError(GadError, ValueError):
    """A checkpoint that is missing, unreadable, not gad's, of a newer gad, or whose weights do not fit its model."""


def load_module(path: str | Path) -> FewShotAnomalyModule:
    """The LightningModule saved in ``path``, in eval mode on the CPU, its weights checked key by key."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist (expected a .ckpt file written by gad fit).")
    try:
        # Our own checkpoints hold plain Python settings next to the tensors; they are not untrusted downloads.
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises several types for a file that is not a checkpoint
        raise CheckpointError(f"Cannot read checkpoint {path}: {err}") from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not a Lightning checkpoint (no state_dict).")
    info = checkpoint.get(CHECKPOINT_KEY) or {}
    if info.get("format", CHECKPOINT_FORMAT) > CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} was written by a newer gad (checkpoint format {info['format']}; this gad reads up to "
            f"{CHECKPOINT_FORMAT}): upgrade gad."
        )
    hparams = dict(checkpoint.get("hyper_parameters") or {})
    class_path = info.get("class_path") or hparams.get("_class_path")
    if not class_path:
        raise CheckpointError(
            f"{path} does not say which gad model it holds: it was not written by gad fit (or a Trainer running a "
            "gad model)."
        )
    cls = _import(class_path, path)
    if not (isinstance(cls, type) and issubclass(cls, FewShotAnomalyModule)):
        raise CheckpointError(
            f"{path} holds a {class_path}, which is not a gad few-shot model (e.g. gad.models.dictas.DictAS, "
            "gad.models.inctrl.InCTRL)."
        )
    settings = {k: v for k, v in hparams.items() if not k.startswith("_")}
    try:
        module = cls(**settings)
    except TypeError as err:
        raise CheckpointError(f"{path}: its settings do not fit {class_path} of this gad version: {err}") from err
    module.on_load_checkpoint(checkpoint)
    missing, unexpected = module.load_state_dict(checkpoint["state_dict"], strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: its weights do not fit {class_path} of this gad version (a checkpoint of another method or "
            f"version?): missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}."
        )
    return module.eval()


def run_center_crop(checkpoint: str | Path) -> bool:
    """Whether the checkpoint's run preprocessed with a centre crop (``data.init_args.center_crop`` of the run's
    ``config.yaml``); ``False`` when there is no run config."""
    from gad.runs import CONFIG_NAME, run_of_checkpoint

    config = run_of_checkpoint(Path(checkpoint)) / CONFIG_NAME
    if not config.is_file():
        return False
    data = (yaml.safe_load(config.read_text()) or {}).get("data") or {}
    return bool((data.get("init_args") or {}).get("center_crop", False))


def _import(class_path: str, path: Path) -> object:
    module_name, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as err:
        raise CheckpointError(f"{path} holds a {class_path}, which this gad does not have: {err}") from err

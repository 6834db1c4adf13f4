"""Loading a trained gad model from its checkpoint alone (no config, no datamodule, no Trainer)."""

from __future__ import annotations

import importlib
from pathlib import Path

from gad.models.base import FewShotAnomalyModule
from gad.models.checkpoint_file import CheckpointError, checkpoint_class, read_torch_file


def load_module(path: str | Path) -> FewShotAnomalyModule:
    """The LightningModule saved in ``path``, in eval mode on the CPU, its weights checked key by key. The file is
    read with ``weights_only=True``: a checkpoint that carries anything but tensors and plain settings is refused."""
    path = Path(path)
    class_path = checkpoint_class(path)
    checkpoint = read_torch_file(path)
    hparams = dict(checkpoint.get("hyper_parameters") or {})
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


def _import(class_path: str, path: Path) -> object:
    module_name, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as err:
        raise CheckpointError(f"{path} holds a {class_path}, which this gad does not have: {err}") from err

"""What importing any method's released checkpoint shares: reading it safely, telling the methods' files apart,
fitting the renamed tensors to the gad model."""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Callable
from typing import Any, Literal

from torch import Tensor, nn

from gad.models.checkpoint_file import CheckpointError, read_torch_file

Method = Literal["dictas", "inctrl"]
NAMES = {"dictas": "DictAS", "inctrl": "InCTRL"}
FORMATS = {
    "dictas": "{'Mymodel': state_dict} of the official MyDictionary (e.g. train_visa.pth)",
    "inctrl": "the official InCTRL state dict (checkpoints/<K>/checkpoint.pyth)",
}


def read_official(path: str | Path, method: Method) -> dict[str, Any]:
    """The released file's content, refused in one line if it is another method's, gad's own, or not one at all."""
    content = read_torch_file(path, FORMATS[method])
    found = identify(content)
    if found == method:
        return content
    if found == "gad":
        raise CheckpointError(f"{path} is already a gad checkpoint: use it directly (--ckpt_path), no import needed.")
    if found is not None:
        raise CheckpointError(
            f"{path} is {NAMES[found]}'s checkpoint format, not {NAMES[method]}'s: use gad import-official {found} "
            f"{path} ..."
        )
    raise CheckpointError(f"{path} is not a {method} checkpoint (expected {FORMATS[method]}).")


def identify(content: Any) -> str | None:
    """Which kind of checkpoint ``content`` is: ``dictas``, ``inctrl``, ``gad`` or ``None``."""
    if not isinstance(content, dict):
        return None
    if isinstance(content.get("Mymodel"), dict):
        return "dictas"
    if "state_dict" in content and ("gad" in content or "hyper_parameters" in content):
        return "gad"
    if "diff_head_ref.projection1.weight" in content and any(str(k).startswith("adapter.") for k in content):
        return "inctrl"
    return None


def fit_tensors(
    target: nn.Module, tensors: dict[str, Tensor], path: str | Path, clip: str, others: Callable[[str], bool]
) -> None:
    """Copy renamed tensors into ``target``, refusing in one line a tensor the model lacks, one it needs that is
    missing (``others(name)``: the file need not provide it) or one whose shape does not fit (weights trained on
    another CLIP than ``clip``)."""
    own = target.state_dict()
    unknown = sorted(set(tensors) - set(own))
    if unknown:
        raise CheckpointError(f"{path}: tensors {unknown[:5]} have no place in the gad model.")
    missing = sorted(name for name in set(own) - set(tensors) if not others(name))
    if missing:
        raise CheckpointError(f"{path}: tensors for {missing[:5]} are missing (an incomplete or other file?).")
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(own[name].shape):
            raise CheckpointError(
                f"{path}: its shapes do not fit the CLIP {clip}: {name} is {tuple(tensor.shape)} in the file but "
                f"{tuple(own[name].shape)} in the model (give the CLIP architecture it was trained on, --clip_config)."
            )
    target.load_state_dict(tensors, strict=False)


def read_model_config(path: str | Path | None) -> tuple[str, dict[str, Any]] | None:
    """(name, config) of an open_clip model-config JSON (the name is the file's stem), or None without one."""
    if path is None:
        return None
    path = Path(path)
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"--clip_config {path}: cannot read it as JSON ({err}).") from err
    if not isinstance(config, dict):
        raise CheckpointError(f"--clip_config {path} is not an open_clip model config (a JSON object).")
    return path.stem, config  # its keys are checked when the backbone registers it

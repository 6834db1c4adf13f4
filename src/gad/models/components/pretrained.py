"""Where CLIP weights come from (open_clip tag, local file, or none) and one actionable error when they are missing.

Offline machines are the norm for gad's users (clusters, factory PCs), so a missing file must fail at once with
what to download and how to point gad at it, not after a 45-second hub retry.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import open_clip
import torch
from torch import nn

from gad.errors import ConfigError, GadError
from gad.torch_files import load_failure

RANDOM_INIT = (None, "", "none", "random")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".npz")
POINT_AT_FILE = "--model.init_args.backbone.pretrained /path/to/weights"


class WeightsNotFoundError(GadError, FileNotFoundError):
    """CLIP weights that gad was asked for cannot be found or fetched."""


class WeightsFileError(GadError, ValueError):
    """A CLIP weights file that is not weights (random bytes, a pickle with code) or not for the model asked for."""


@dataclass(frozen=True)
class WeightSource:
    """A resolved choice of weights for one open_clip model."""

    model_name: str
    kind: Literal["random", "file", "tag"]
    source: str | None
    quick_gelu: bool
    expected: str = ""

    def describe(self) -> str:
        return {"random": "random init", "file": f"file {self.source}", "tag": f"open_clip tag {self.source}"}[
            self.kind
        ]

    def load(self, build: Callable[[str | None], nn.Module]) -> nn.Module:
        """Build the model through ``build(pretrained)`` and load the weights, translating failures."""
        if self.kind == "file":
            assert self.source is not None  # resolve_pretrained gives a "file" source its path
            model = build(None)
            _load_file(model, self.model_name, self.source)
            return model
        try:
            return build(self.source)
        except (RuntimeError, FileNotFoundError, OSError) as err:
            if self.kind != "tag":
                raise
            raise WeightsNotFoundError(_missing_message(self, f"open_clip said: {err}")) from err


def resolve_pretrained(model_name: str, pretrained: str | None, cache_dir: str | None = None) -> WeightSource:
    """Decide what ``pretrained`` means and fail early (no network) when the weights cannot be had."""
    if pretrained in RANDOM_INIT:
        return WeightSource(model_name, "random", None, quick_gelu=False)
    path = Path(os.path.expanduser(pretrained))
    if path.suffix in CHECKPOINT_SUFFIXES or os.sep in pretrained:
        if not path.is_file():
            raise WeightsNotFoundError(
                f"CLIP weights file {path} for model {model_name!r} does not exist. Give the path of an open_clip "
                f"state dict (.bin/.safetensors/.pt) or OpenAI's TorchScript .pt file, e.g. {POINT_AT_FILE}."
            )
        return WeightSource(model_name, "file", str(path), quick_gelu=_openai_file(path))
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    if pretrained not in tags:
        raise ConfigError(
            f"Unknown pretrained tag {pretrained!r} for CLIP model {model_name!r}; open_clip knows "
            f"{tags or 'no tags for this model'}. Pass a tag, a local file path, or null for random init."
        )
    cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    source = WeightSource(
        model_name, "tag", pretrained, bool(cfg.get("quick_gelu", False)), _expected_file(cfg, cache_dir)
    )
    if _offline() and not _cached(cfg, cache_dir):
        raise WeightsNotFoundError(_missing_message(source, "HF_HUB_OFFLINE is set and the file is not in the cache."))
    return source


def _missing_message(source: WeightSource, why: str) -> str:
    return (
        f"CLIP weights for model {source.model_name!r} with pretrained tag {source.source!r} are not available: {why}\n"
        f"  expected: {source.expected}\n"
        f"  fix: download that file on a machine with network access and either copy the Hugging Face cache "
        f"(set HF_HUB_CACHE or backbone cache_dir to it), or point gad at the file: {POINT_AT_FILE}"
    )


def _expected_file(cfg: dict, cache_dir: str | None) -> str:
    if cfg.get("hf_hub"):
        repo, filename = os.path.split(cfg["hf_hub"])
        where = cache_dir or "the Hugging Face cache"
        return f"{filename or 'open_clip_pytorch_model.bin'} of hub repo {repo!r} in {where}"
    url = cfg.get("url", "")
    return f"{os.path.join(cache_dir or os.path.expanduser('~/.cache/clip'), os.path.basename(url))} (from {url})"


def _cached(cfg: dict, cache_dir: str | None) -> bool:
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache

        repo, filename = os.path.split(cfg["hf_hub"])
        names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        return any(isinstance(try_to_load_from_cache(repo, name, cache_dir=cache_dir), str) for name in names)
    url = cfg.get("url", "")
    return bool(url) and os.path.isfile(
        os.path.join(cache_dir or os.path.expanduser("~/.cache/clip"), os.path.basename(url))
    )


def _offline() -> bool:
    from huggingface_hub import constants

    return (
        bool(constants.is_offline_mode()) if hasattr(constants, "is_offline_mode") else bool(constants.HF_HUB_OFFLINE)
    )


def _load_file(model: nn.Module, model_name: str, path: str) -> None:
    """Load a weights file without running code from it: TorchScript through ``torch.jit.load`` (no Python
    unpickling), anything else with ``weights_only=True``. Every failure is one line naming the file."""
    try:
        if _is_torchscript(path):
            weights = torch.jit.load(path, map_location="cpu").state_dict()
            for key in ("input_resolution", "context_length", "vocab_size"):
                weights.pop(key, None)
            model.load_state_dict(weights, strict=True)
        else:
            open_clip.load_checkpoint(model, path, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to read a user's file is bad input, said in one line
        raise WeightsFileError(
            f"CLIP weights file {path} cannot be loaded into model {model_name!r}: {load_failure(err)}. "
            f"Expected an open_clip state dict of {model_name!r} (.bin/.safetensors/.pt saved with torch.save, "
            "tensors only) or OpenAI's TorchScript .pt; files that need code to load are refused."
        ) from err


def _is_torchscript(path: str | Path) -> bool:
    """Whether ``torch.load`` would treat the file as a TorchScript archive: a torch zip archive with the record
    ``constants.pkl`` at its top level (the check of ``torch.serialization``, not a name that merely ends so)."""
    with open(path, "rb") as handle:
        if not torch.serialization._is_zipfile(handle):
            return False
    try:
        with torch.serialization._open_zipfile_reader(str(path)) as archive:
            return torch.serialization._is_torchscript_zip(archive)
    except RuntimeError:
        return False


def _openai_file(path: Path) -> bool:
    """OpenAI's own checkpoints were trained with QuickGELU."""
    return _is_torchscript(path)

"""Reading ``torch.save`` files a user hands gad (checkpoints, released weights, prompt files) without running code.

Every such file is loaded with ``torch.load(..., weights_only=True)``: tensors and plain settings only, never a
pickled object (unpickling one could run code). Each failure is one line that names the file and what was expected.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from gad.errors import GadError


def load_plain(path: str | Path, error: type[GadError], expected: str, mmap: bool = False) -> Any:
    """The content of the ``torch.save`` file ``path``, tensors and plain settings only; a missing, unsafe or
    unreadable file raises ``error`` naming it and ``expected`` (``mmap``: tensors are mapped, not read)."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path} does not exist (expected {expected}).")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        raise error(
            f"{path} holds Python objects other than tensors and plain settings, which gad refuses to load (they "
            f"could run code), or is not a torch.save file; expected {expected} ({load_failure(err)})."
        ) from err
    except Exception as err:  # torch raises several types for a truncated file or one that is not torch's
        raise error(f"Cannot read {path} (truncated, or not {expected}): {load_failure(err)}") from err


def load_failure(err: BaseException) -> str:
    """Why a load failed, in one short line: for a file ``weights_only`` refused, torch's paragraph naming what
    it refused (e.g. ``unsupported GLOBAL posix.system``) without its paragraphs of advice."""
    text = str(err)
    if text.startswith("Weights only load failed"):
        paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
        detail = paragraphs[1] if len(paragraphs) > 2 else paragraphs[0]
        detail = detail.split("WeightsUnpickler error: ")[-1]
        return f"weights_only refused: {detail[:200]}"
    return f"{type(err).__name__}: {' '.join(text.split())[:300] or 'file ended early'}"

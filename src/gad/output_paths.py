"""Outputs checked before any work: a command must not load a model and score images only to fail at writing."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from gad.errors import ConfigError


def check_writable(path: str | Path, option: str, kind: Literal["folder", "file"]) -> None:
    """Refuse an output ``path`` (a folder to create or fill, or a file to write) that cannot be written: a folder
    that is a file (or a file that is a folder), a path under a regular file, or a place without write permission.
    Creates nothing."""
    path = Path(path)
    if path.exists() and path.is_dir() != (kind == "folder"):
        expected = "a folder" if kind == "folder" else "a file name"
        raise ConfigError(f"{option} {path}: expected {expected}, but it is an existing {_what(path)}.")
    folder = path if kind == "folder" else path.parent
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise ConfigError(f"{option} {path}: {existing} is a {_what(existing)}, so no folder can be created under it.")
    target = path if path.exists() else existing
    if not os.access(target, os.W_OK | (os.X_OK if target.is_dir() else 0)):
        raise ConfigError(f"{option} {path}: {target} is not writable.")


def plain_name(text: str, keep: str = "_-") -> str:
    """``text`` as one file or folder name: letters, digits and the characters of ``keep``, any other run as ``-``
    (so never ``/``, ``..`` or empty); names from data (categories, datasets) must not become paths."""
    return re.sub(rf"[^A-Za-z0-9{re.escape(keep)}]+", "-", text).strip("-") or "x"


def _what(path: Path) -> str:
    return "folder" if path.is_dir() else "file"


def write_atomic(path: str | Path, text: str, newline: str | None = None) -> Path:
    """Write ``text`` to ``path`` through a temporary file beside it and ``os.replace``: a reader (a later
    benchmark, a user) finds the old file or the whole new one, never a part, even if the command is killed while
    writing; an interrupted write removes its temporary file. ``newline`` as for ``open``."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, newline=newline)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path

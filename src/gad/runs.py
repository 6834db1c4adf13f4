"""Run folders: where a command writes, its status, and which run ``gad test`` picks when given nothing else.

Every command folder is created atomically (two processes in the same second get two folders) and carries
``status.json``: ``running`` while the command runs, then ``finished``, ``failed`` or ``interrupted``; a folder
left ``running`` by a dead process was killed. Only finished runs are picked by ``--run`` and "the most recent run".
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from gad.output_paths import check_writable, write_atomic
from gad.errors import GadError, gad_error_in

RUNS_ENV = "GAD_RUNS_DIR"
CONFIG_NAME = "config.yaml"
STATUS_NAME = "status.json"
FINISHED, RUNNING, FAILED, INTERRUPTED = "finished", "running", "failed", "interrupted"
LAST_CHECKPOINT = "last.ckpt"

_open_commands: list[list[Path]] = []
"""The folders created by each command now running in this process (innermost last), to mark when it ends."""


class NoRunError(GadError, FileNotFoundError):
    """No finished run to pick."""


def runs_root() -> Path:
    return Path(os.environ.get(RUNS_ENV, "runs"))


def ensure_folder(folder: Path, what: str) -> Path:
    """Create ``folder`` (and its parents) after ``check_writable``: one line, before any model is loaded."""
    check_writable(folder, what, "folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def new_output_dir(parent: Path, name: str) -> Path:
    """A fresh folder ``parent/<timestamp>_<name>`` (``-2``, ``-3``... when taken), created atomically and marked
    running."""
    ensure_folder(parent, f"Runs folder (${RUNS_ENV})" if parent == runs_root() else "Output folder")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    suffix = 1
    while True:
        folder = parent / (f"{stamp}_{name}" if suffix == 1 else f"{stamp}_{name}-{suffix}")
        try:
            folder.mkdir()
            break
        except FileExistsError:
            suffix += 1
    reopen_run(folder)
    return folder


def reopen_run(folder: Path) -> None:
    """Mark ``folder`` running for the command now starting (a new folder, or a run being resumed)."""
    write_status(folder, RUNNING)
    if _open_commands:
        _open_commands[-1].append(folder)


def write_status(folder: Path, status: str, error: str | None = None) -> None:
    record = {"status": status, "pid": os.getpid(), "time": datetime.now().isoformat(timespec="seconds")}
    if error:
        record["error"] = error
    write_atomic(folder / STATUS_NAME, json.dumps(record, indent=1) + "\n")


def run_status(folder: Path) -> str | None:
    """``finished``, ``running``, ``failed``, ``interrupted``; ``None`` for a folder without a status file."""
    try:
        return str(json.loads((folder / STATUS_NAME).read_text())["status"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextmanager
def command_status() -> Iterator[None]:
    """Mark the folders created inside the block ``finished`` when it returns, ``interrupted`` on Ctrl-C or
    SIGTERM, ``failed`` on any other error. A SIGKILL leaves ``running``, which is never taken for finished."""
    created: list[Path] = []
    _open_commands.append(created)
    try:
        with sigterm_interrupts():
            yield
    except BaseException as err:
        status, cause = _status_of(err), gad_error_in(err) or err
        for folder in created:
            write_status(folder, status, None if status == FINISHED else f"{type(cause).__name__}: {cause}"[:500])
        raise
    else:
        for folder in created:
            write_status(folder, FINISHED)
    finally:
        _open_commands.remove(created)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Inside the block, SIGTERM stops the command as Ctrl-C does (``KeyboardInterrupt`` in the main thread, which
    Lightning shuts down gracefully), instead of ending the process at once or being logged and ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def was_interrupted(err: BaseException) -> bool:
    """Whether ``err`` ended a command because of Ctrl-C or SIGTERM."""
    return _status_of(err) == INTERRUPTED


def _status_of(err: BaseException) -> str:
    """Lightning turns Ctrl-C into ``SystemExit(1)`` after a graceful shutdown: look behind it."""
    if isinstance(err, SystemExit) and err.code in (0, None):
        return FINISHED
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return INTERRUPTED
        seen = seen.__context__
    return FAILED


def find_checkpoint(run: Path) -> Path | None:
    """The run's best checkpoint (``best*.ckpt``), else ``last.ckpt``, else its newest checkpoint."""
    found = sorted(run.rglob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    for wanted in (lambda p: p.name.startswith("best"), lambda p: p.name.startswith("last"), lambda p: True):
        matches = [p for p in found if wanted(p)]
        if matches:
            return matches[-1]
    return None


def run_checkpoint(folder: Path) -> Path:
    """The checkpoint of a finished run folder given by the user (``--run``)."""
    if not (folder / CONFIG_NAME).is_file():
        raise NoRunError(f"--run {folder}: not a gad run folder (no {CONFIG_NAME}).")
    status = run_status(folder)
    if status is None and not (folder / STATUS_NAME).exists():  # made by a gad without status files: the user chose it
        print(f"gad: {folder} has no {STATUS_NAME} (an older gad's run): used as finished", file=sys.stderr)
    elif status != FINISHED:
        raise NoRunError(
            f"--run {folder}: the run is {_described(status)}, not finished; only finished runs are used "
            f"(continue it with `gad fit --run {folder} --resume`)."
        )
    checkpoint = find_checkpoint(folder)
    if checkpoint is None:
        raise NoRunError(f"--run {folder}: a finished run without a checkpoint.")
    return checkpoint


def latest_run(root: Path | None = None) -> tuple[Path, Path]:
    """(run folder, checkpoint) of the most recent finished ``fit`` run under ``root`` that saved a checkpoint."""
    root = root or runs_root()
    for folder in _runs_newest_first(root):
        checkpoint = find_checkpoint(folder) if run_status(folder) == FINISHED else None
        if checkpoint is not None:
            return folder, checkpoint
    raise NoRunError(
        f"No finished run (a folder with {CONFIG_NAME}, {STATUS_NAME} saying finished, and a checkpoint) under "
        f"{root.resolve()}; runs that were killed, failed or are still running are not used. Train one first, e.g. "
        f"`gad fit --config configs/quickstart.yaml`, or pass --config and --ckpt_path (or --run FOLDER)."
    )


def resumable_run(run: Path | None, checkpoint: Path | None, root: Path | None = None) -> tuple[Path, Path]:
    """(run folder, checkpoint) that ``gad fit --resume`` / ``--ckpt_path`` continues: the checkpoint's run, else
    ``--run``'s ``last.ckpt``, else the most recent run's ``last.ckpt`` (whatever its status)."""
    if checkpoint is not None:
        if not checkpoint.is_file():
            raise NoRunError(f"--ckpt_path {checkpoint}: no such checkpoint.")
        folder = run_of_checkpoint(checkpoint)
        if folder is None:
            raise NoRunError(f"--ckpt_path {checkpoint}: not inside a gad run folder (no {CONFIG_NAME} above it).")
        return folder, checkpoint
    candidates = [run] if run is not None else list(_runs_newest_first(root or runs_root()))
    for folder in candidates:
        last = next(iter(sorted(folder.rglob(LAST_CHECKPOINT))), None)
        if last is not None and (folder / CONFIG_NAME).is_file():
            return folder, last
    where = f"--run {run}" if run is not None else f"any run under {(root or runs_root()).resolve()}"
    raise NoRunError(f"Nothing to resume: {where} has no {CONFIG_NAME} with a checkpoints/{LAST_CHECKPOINT}.")


def _runs_newest_first(root: Path) -> Iterator[Path]:
    configs = (
        sorted(root.glob(f"*/{CONFIG_NAME}"), key=lambda p: p.stat().st_mtime, reverse=True) if root.is_dir() else []
    )
    return (config.parent for config in configs)


def _described(status: str | None) -> str:
    if status is None:
        return f"without a {STATUS_NAME}"
    return "marked running (still running, or killed)" if status == RUNNING else status


def run_of_checkpoint(checkpoint: Path) -> Path | None:
    """The run folder a checkpoint belongs to (the one holding ``config.yaml``); ``None`` outside any run (an
    imported or copied checkpoint), where commands write under the runs folder, never beside the file."""
    for parent in checkpoint.resolve().parents:
        if (parent / CONFIG_NAME).is_file():
            return parent
    return None

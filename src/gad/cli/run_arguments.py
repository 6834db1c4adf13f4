"""The command line as typed, resolved before LightningCLI parses it: ``--run`` and "the most recent run" become
``--config`` and ``--ckpt_path``, a checkpoint names its model, and ``fit --resume`` finds what to continue."""

from __future__ import annotations

import sys
from pathlib import Path

from gad.models.checkpoint_file import checkpoint_class
from gad.runs import CONFIG_NAME, latest_run, resumable_run, run_checkpoint

EVAL_COMMANDS = ("validate", "test", "predict")


def resolve_run_arguments(argv: list[str]) -> list[str]:
    """For validate/test/predict given ``--run FOLDER`` or no config at all, add that run's (or the most recent
    finished run's) ``--config`` and ``--ckpt_path`` right after the command, so later arguments still override
    them; for a resumed fit see ``resume_arguments``."""
    if any(a in ("-h", "--help") for a in argv):
        return argv
    if argv and argv[0] == "fit":
        return resume_arguments(argv)
    if not argv or argv[0] not in EVAL_COMMANDS:
        return argv
    run = _option_value(argv, "--run")
    if run is not None:
        folder = Path(run)
        checkpoint = run_checkpoint(folder)
    elif any(a.split("=")[0] in ("-c", "--config", "--ckpt_path", "--model", "--data") for a in argv[1:]):
        return argv
    else:
        folder, checkpoint = latest_run()
        print(f"gad {argv[0]}: using the most recent run {folder} (checkpoint {checkpoint})", file=sys.stderr)
    return [argv[0], "--config", str(folder / CONFIG_NAME), "--ckpt_path", str(checkpoint), *argv[1:]]


def model_from_checkpoint(argv: list[str]) -> list[str]:
    """For validate/test/predict with ``--ckpt_path`` and no ``--model``: the checkpoint's model class first, so
    that a config with only data works (a config's own model still comes later and wins). The checkpoint is
    checked here, before anything is built: safe to load, of a gad format this gad reads, saying its model."""
    checkpoint = _option_value(argv, "--ckpt_path")
    if not argv or argv[0] not in EVAL_COMMANDS or checkpoint is None or any(a in ("-h", "--help") for a in argv):
        return argv
    class_path = checkpoint_class(checkpoint)
    if any(a.split("=")[0] == "--model" for a in argv):
        return argv
    return [argv[0], "--model", class_path, *argv[1:]]


def resume_arguments(argv: list[str]) -> list[str]:
    """``fit [--run RUN] --resume`` (``--resume`` is handled here, before the parser) or ``fit --ckpt_path
    last|CKPT``: the run's ``--config`` first, then the other arguments, then ``--ckpt_path`` of the checkpoint to
    continue from (``last``: the run's ``last.ckpt``). The fit then writes into that run's folder."""
    ckpt = _option_value(argv, "--ckpt_path")
    if ckpt is None and "--resume" not in argv:
        return argv
    run = _option_value(argv, "--run")
    folder, checkpoint = resumable_run(Path(run) if run else None, None if ckpt in (None, "last") else Path(ckpt))
    checkpoint_class(checkpoint)  # safe to load, a format this gad reads, naming a gad model
    print(f"gad fit: resuming {folder} from {checkpoint}", file=sys.stderr)
    rest = [arg for arg in _without_option(argv[1:], "--ckpt_path") if arg != "--resume"]
    return [argv[0], "--config", str(folder / CONFIG_NAME), *rest, "--ckpt_path", str(checkpoint)]


def _without_option(argv: list[str], option: str) -> list[str]:
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            kept.append(arg)
    return kept


def _option_value(argv: list[str], option: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None

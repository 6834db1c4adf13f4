"""The ``gad`` command."""

from __future__ import annotations

import sys

from gad.cli.data_command import data_main
from gad.cli.export_command import export_main
from gad.cli.lightning_cli import GadCLI, resolve_run_arguments
from gad.cli.predict_command import is_folder_mode, predict_main
from gad.errors import GadError

EXTRA_COMMANDS = {"data": data_main, "export": export_main}


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``gad`` console script (also ``python -m gad``)."""
    argv = list(sys.argv[1:] if args is None else args)
    if argv and argv[0] in EXTRA_COMMANDS:
        EXTRA_COMMANDS[argv[0]](argv[1:])
        return
    if is_folder_mode(argv):
        predict_main(argv[1:])
        return
    try:
        argv = resolve_run_arguments(argv)
        # DDP launches the other processes with sys.argv: give them the resolved arguments too.
        sys.argv = [sys.argv[0], *argv]
        GadCLI()
        _finish_wandb()
    except Exception as err:
        cause = _gad_error_in(err)
        if cause is None:
            raise
        sys.exit(f"gad: error: {cause}")


def _finish_wandb() -> None:
    """Close the command's wandb run, so that a next command in the same process starts its own."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()


def _gad_error_in(err: BaseException | None) -> GadError | None:
    """The GadError behind an exception (jsonargparse wraps errors raised while instantiating classes)."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, GadError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


__all__ = ["GadCLI", "main"]

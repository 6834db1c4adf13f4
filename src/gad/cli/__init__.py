"""The ``gad`` command."""

from __future__ import annotations

import sys

from gad.cli.benchmark_command import benchmark_main
from gad.cli.data_command import data_main
from gad.cli.export_command import export_main
from gad.cli.lightning_cli import GadCLI, gad_error_in, run_lightning
from gad.cli.predict_command import is_folder_mode, predict_main
from gad.errors import GadError

EXTRA_COMMANDS = {"data": data_main, "benchmark": benchmark_main, "export": export_main}


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
        run_lightning(argv)
    except Exception as err:
        cause = gad_error_in(err)
        if cause is None:
            raise
        sys.exit(f"gad: error: {cause}")


__all__ = ["GadCLI", "GadError", "main"]

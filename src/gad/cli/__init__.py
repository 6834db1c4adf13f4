"""The ``gad`` command."""

from __future__ import annotations

import sys

from gad.cli.benchmark_command import benchmark_main
from gad.cli.data_command import data_main
from gad.cli.export_command import export_main
from gad.cli.import_command import import_main
from gad.cli.errors import one_line_errors
from gad.cli.lightning_cli import GadCLI, run_lightning
from gad.cli.predict_command import is_folder_mode, predict_main
from gad.errors import GadError

EXTRA_COMMANDS = {
    "data": data_main,
    "benchmark": benchmark_main,
    "export": export_main,
    "import-official": import_main,
}


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``gad`` console script (also ``python -m gad``)."""
    argv = list(sys.argv[1:] if args is None else args)
    if argv and argv[0] in EXTRA_COMMANDS:
        EXTRA_COMMANDS[argv[0]](argv[1:])
        return
    if is_folder_mode(argv):
        predict_main(argv[1:])
        return
    with one_line_errors("gad"):
        run_lightning(argv)


__all__ = ["GadCLI", "GadError", "main"]

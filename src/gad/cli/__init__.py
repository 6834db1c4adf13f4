"""The ``gad`` command. Nothing heavy is imported here: each command loads its own modules when it runs."""

from __future__ import annotations

import sys

from gad.cli.commands import dispatch
from gad.cli.stopping import stop_on_signals
from gad.cli.verbosity import pop_verbose, set_verbosity


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``gad`` console script (also ``python -m gad``; ``args`` when called from Python).
    Ctrl-C and SIGTERM stop any command at once, its folders marked interrupted (never taken for finished) and its
    results files whole or absent."""
    verbose, argv = pop_verbose(list(sys.argv[1:] if args is None else args))
    set_verbosity(verbose)
    with stop_on_signals(" ".join(["gad", *argv[:1]]), exit_at_once=args is None):
        dispatch(argv)


__all__ = ["main"]

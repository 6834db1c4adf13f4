"""The ``gad`` command. Nothing heavy is imported here: each command loads its own modules when it runs."""

from __future__ import annotations

import sys

from gad.cli.commands import dispatch
from gad.cli.verbosity import pop_verbose, set_verbosity
from gad.runs import sigterm_interrupts, was_interrupted

INTERRUPTED_EXIT = 130  # as a shell reports a command stopped by Ctrl-C


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``gad`` console script (also ``python -m gad``). Ctrl-C and SIGTERM stop any command at
    once, its folders marked interrupted (never taken for finished) and its results files whole or absent."""
    verbose, argv = pop_verbose(list(sys.argv[1:] if args is None else args))
    set_verbosity(verbose)
    try:
        with sigterm_interrupts():
            dispatch(argv)
    except (KeyboardInterrupt, SystemExit) as err:
        if not was_interrupted(err):
            raise
        print(f"{' '.join(['gad', *argv[:1]])}: interrupted", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT)


__all__ = ["main"]

"""The ``gad`` command. Nothing heavy is imported here: each command loads its own modules when it runs."""

from __future__ import annotations

import sys

from gad.cli.commands import dispatch
from gad.cli.verbosity import pop_verbose, set_verbosity


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``gad`` console script (also ``python -m gad``)."""
    verbose, argv = pop_verbose(list(sys.argv[1:] if args is None else args))
    set_verbosity(verbose)
    dispatch(argv)


__all__ = ["main"]

"""Bad input ends a command with one line that says what is wrong (``gad data: error: ...``), not a traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from gad.errors import gad_error_in


@contextmanager
def one_line_errors(command: str) -> Iterator[None]:
    """Exit with ``{command}: error: {message}`` when a GadError is behind what the block raised; anything else
    (a bug, not bad input) keeps its traceback."""
    try:
        yield
    except Exception as err:
        cause = gad_error_in(err)
        if cause is None:
            raise
        sys.exit(f"{command}: error: {cause}")

"""Bad input ends a command with one line that says what is wrong (``gad data: error: ...``), not a traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from gad.errors import GadError


def gad_error_in(err: BaseException | None) -> GadError | None:
    """The GadError behind an exception (jsonargparse wraps errors raised while instantiating classes)."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, GadError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


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

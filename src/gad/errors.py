"""The base of every error gad raises for bad input: the CLI prints these as one clear line, no traceback."""

from __future__ import annotations


class GadError(Exception):
    """Bad input (data, config, weights, references): the message says what was expected and how to fix it."""


class ConfigError(GadError, ValueError):
    """A setting that cannot work (unknown tag, impossible layers, mismatched sizes)."""


def gad_error_in(err: BaseException | None) -> GadError | None:
    """The GadError behind an exception (jsonargparse wraps errors raised while instantiating classes)."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, GadError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None

"""The base of every error gad raises for bad input: the CLI prints these as one clear line, no traceback."""


class GadError(Exception):
    """Bad input (data, config, weights, references): the message says what was expected and how to fix it."""


class ConfigError(GadError, ValueError):
    """A setting that cannot work (unknown tag, impossible layers, mismatched sizes)."""

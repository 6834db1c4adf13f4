"""Quiet by default: gad says what it does and where it writes; Lightning's tips and hardware lines, wandb's banners
(``gad.tracking.silence_wandb``) and library-internal deprecations stay out of the way unless ``--verbose``
(anywhere on the command line)."""

from __future__ import annotations

import logging
import warnings

VERBOSE_OPTION = "--verbose"
QUIET_LOGGERS = ("lightning.pytorch", "lightning.fabric")
"""Their INFO lines: tips, ``GPU available``, ``Seed set to``, ``limit_val_batches ... 100%``."""
HARMLESS_WARNINGS = (
    r".*isinstance\(treespec, LeafSpec\)` is deprecated",  # inside Lightning, nothing a user can change
    r"Found \d+ module\(s\) in eval mode at the start of training",  # the frozen CLIP, on purpose
    r"``instantiate_classes`` was deprecated",  # jsonargparse, about Lightning's own calls
    r"skip_none parameter was deprecated",
)

_verbose = False


def pop_verbose(argv: list[str]) -> tuple[bool, list[str]]:
    """``--verbose`` (bare, or ``--verbose true|false``) taken out of ``argv``: (given, the other arguments)."""
    verbose, rest, i = False, [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == VERBOSE_OPTION:
            following = argv[i + 1].lower() if i + 1 < len(argv) else ""
            verbose = following != "false"
            i += 2 if following in ("true", "false") else 1
            continue
        if arg.startswith(VERBOSE_OPTION + "="):
            verbose = arg.split("=", 1)[1].lower() != "false"
        else:
            rest.append(arg)
        i += 1
    return verbose, rest


def set_verbosity(verbose: bool) -> None:
    """Quiet (the default) or verbose for the rest of the process; wandb reads its setting when it starts."""
    global _verbose
    _verbose = verbose
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)
    if verbose:
        return
    for message in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=message)


def is_verbose() -> bool:
    return _verbose

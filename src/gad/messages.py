"""gad's own lines (what it did, where it wrote): printed on stderr by the main process whatever the verbosity
(quiet mode mutes Lightning's loggers, not gad), and kept as records of the ``gad`` logger for programs and tests."""

from __future__ import annotations

import logging
import os
import sys

LOGGER = logging.getLogger("gad")


def is_main_process() -> bool:
    """Rank 0 of node 0 (DDP processes > 0 stay silent); also true outside DDP."""
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def say(message: str) -> None:
    """One line of gad's own on stderr, from the main process only."""
    if is_main_process():
        print(message, file=sys.stderr, flush=True)
        LOGGER.info(message)

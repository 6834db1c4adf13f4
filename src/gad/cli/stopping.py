"""Ctrl-C and SIGTERM stop a gad command within seconds, its child processes too.

What an interrupted command must leave is written while it stops (folders marked ``interrupted``, results files
whole or absent: they are written atomically). Python's own teardown of torch and its libraries after that can
take tens of seconds on a loaded machine, so the ``gad`` console script ends its process right away.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from gad.runs import sigterm_interrupts, was_interrupted

INTERRUPTED_EXIT = 130  # as a shell reports a command stopped by Ctrl-C


@contextmanager
def stop_on_signals(command: str, exit_at_once: bool) -> Iterator[None]:
    """Run the block with SIGTERM acting as Ctrl-C; if either stops it, say so in one line and exit 130
    (``exit_at_once``: without Python's teardown, for the console script; else ``SystemExit``, for callers in
    Python)."""
    try:
        with sigterm_interrupts():
            yield
    except (KeyboardInterrupt, SystemExit) as err:
        if not was_interrupted(err):
            raise
        print(f"{command}: interrupted", file=sys.stderr)
        if exit_at_once:
            _exit_now(INTERRUPTED_EXIT)
        sys.exit(INTERRUPTED_EXIT)


def _exit_now(code: int) -> None:
    """End the process now: close a wandb run, stop child processes (data loader workers), flush the output."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish(exit_code=code)
    for child in multiprocessing.active_children():
        child.terminate()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

"""SIGTERM stops a running ``gad benchmark`` at once: the test in progress is marked interrupted, the finished ones
keep whole results, and no partial file is left for a later benchmark to read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

GAD = str(Path(sys.executable).parent / "gad")
SWEEP = [*"benchmark --shots 1 2 --seeds 0 1 -- --config".split(), str(REPO / "configs" / "quickstart.yaml")]


def _statuses(runs: Path) -> dict[Path, str]:
    found = {}
    for path in runs.glob("*/status.json"):
        try:
            found[path.parent] = json.loads(path.read_text())["status"]
        except (OSError, ValueError):  # being replaced: read again at the next poll
            continue
    return found


def test_sigterm_stops_a_benchmark_within_5_s_and_leaves_no_partial_results(in_tmp: Path) -> None:
    env = {**os.environ, "WANDB_MODE": "disabled"}
    env.pop("GAD_RUNS_DIR", None)
    log = (in_tmp / "benchmark.log").open("w")
    sweep = subprocess.Popen([GAD, *SWEEP, "--trainer.logger", "false"], cwd=in_tmp, env=env, stdout=log, stderr=log)
    runs = in_tmp / "runs"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and sweep.poll() is None:  # one test finished, the next one running
        statuses = sorted(_statuses(runs).values())
        if statuses[:1] == ["finished"] and "running" in statuses:
            break
        time.sleep(0.2)
    assert sweep.poll() is None, (in_tmp / "benchmark.log").read_text()[-2000:]
    time.sleep(1.0)  # inside the second test
    sent = time.monotonic()
    sweep.send_signal(signal.SIGTERM)
    code = sweep.wait(timeout=60)
    stopped_after = time.monotonic() - sent
    output = (in_tmp / "benchmark.log").read_text()
    assert stopped_after < 5, f"SIGTERM took {stopped_after:.1f} s to stop gad benchmark"
    assert code == 130 and output.rstrip().endswith("gad benchmark: interrupted"), output[-2000:]
    statuses = _statuses(runs)
    assert sorted(statuses.values()) == ["finished", "interrupted"]
    assert not list(runs.glob("*benchmark*")), "an interrupted sweep wrote its tables"
    assert not list(in_tmp.rglob("*.partial")), "a temporary file was left"
    (finished,) = (folder for folder, status in statuses.items() if status == "finished")
    assert json.loads((finished / "results.json").read_text())["shots"] == 1

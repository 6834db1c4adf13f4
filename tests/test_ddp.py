"""The quickstart fit on 2 CPU processes with the DDP preset, run as a subprocess script (never inside pytest)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.ddp, pytest.mark.slow]

SCRIPT = REPO / "tests" / "scripts" / "ddp_quickstart.sh"


def test_ddp_fit_shares_one_run_folder_and_its_checkpoint_tests(tmp_path: Path, quickstart_root: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "quickstart").symlink_to(quickstart_root)
    env = {k: v for k, v in os.environ.items() if k not in ("GAD_OUTPUT_DIR", "GAD_RUNS_DIR", "LOCAL_RANK")}
    env |= {"WANDB_MODE": "offline", "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}
    done = subprocess.run(
        ["bash", str(SCRIPT), str(REPO), "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "MEMBER: 2/2" in done.stderr + done.stdout, "did not run on 2 processes"
    assert "sync_dist" not in done.stderr + done.stdout, "metrics logged without saying they are global"
    (run,) = (tmp_path / "runs").iterdir()  # both processes wrote into rank 0's folder
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "best.ckpt").is_file()
    (test_dir,) = (run / "test").iterdir()
    table = json.loads((test_dir / "results.json").read_text())["results"]["quickstart"]
    assert set(table) == {"gravel", "chelsea", "coins", "mean"}


EVALUATION_SCRIPT = REPO / "tests" / "scripts" / "ddp_evaluation.sh"


def test_ddp_evaluation_equals_one_process(tmp_path: Path) -> None:
    """2 processes with a padded sampler give exactly the numbers of one process: each image counted once."""
    env = {k: v for k, v in os.environ.items() if k not in ("GAD_OUTPUT_DIR", "GAD_RUNS_DIR", "LOCAL_RANK")}
    env |= {"WANDB_MODE": "disabled", "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}
    done = subprocess.run(
        ["bash", str(EVALUATION_SCRIPT), str(REPO)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=420
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "MEMBER: 2/2" in done.stderr + done.stdout, "did not run on 2 processes"
    images = [
        p for c in ("gravel", "chelsea", "coins") for p in (tmp_path / "data" / "small" / c / "test").rglob("*.png")
    ]
    assert len(images) % 2 == 1, "the test set must be odd for the sampler to pad"
    (one,), (two,) = (list((tmp_path / name).glob("*/results.json")) for name in ("one", "two"))
    single, distributed = (json.loads(p.read_text())["results"]["small"] for p in (one, two))
    assert set(single) == {"gravel", "chelsea", "coins", "mean"} and "pixel_aupro" in single["mean"]
    assert distributed == single

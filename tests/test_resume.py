"""A fit killed with SIGKILL mid-epoch and resumed with ``gad fit --run RUN --resume`` continues in its folder and
ends with exactly the weights, optimizer state and metrics of an uninterrupted fit with the same seed (CPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch import Callback

from gad.runs import STATUS_NAME, run_status
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # every test runs gad fit in a fresh process (three trainings for the fixture)

KILL_ENV = "GAD_TEST_KILL_AT_STEP"
# DictAS on the quickstart data: 2 epochs of 4 steps, last.ckpt after every step, killed before step 7's save
# (so the run continues from step 6, in the middle of the second epoch).
SETTINGS = {
    "data": {"init_args": {"batch_size": 2}},
    "trainer": {
        "max_epochs": 2,
        "limit_train_batches": 4,
        "limit_val_batches": 1,
        "logger": False,
        "enable_progress_bar": False,
        "callbacks": [
            {
                "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                "init_args": {"filename": "best", "monitor": "val/pixel_ap", "mode": "max"},
            },
            {
                "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                "init_args": {"filename": "last", "save_top_k": 1, "every_n_train_steps": 1},
            },
            {"class_path": "tests.test_resume.KillAtStep"},
        ],
    },
}


class KillAtStep(Callback):
    """SIGKILLs its own process after the training step that reaches ``$GAD_TEST_KILL_AT_STEP`` (before that
    step's checkpoint is written: Lightning runs checkpoint callbacks last)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if os.environ.get(KILL_ENV) and trainer.global_step == int(os.environ[KILL_ENV]):
            os.kill(os.getpid(), signal.SIGKILL)


def gad(cwd: Path, *args: str, kill_at: int | None = None) -> subprocess.Popen:
    """``gad ARGS`` started in ``cwd`` (runs under ``cwd/runs``); ``kill_at``: SIGKILL itself after that step."""
    env = os.environ | {
        "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}",
        "GAD_RUNS_DIR": str(cwd / "runs"),
        "WANDB_MODE": "disabled",
        "HF_HUB_OFFLINE": "1",
        "NO_ALBUMENTATIONS_UPDATE": "1",
    }
    env.pop(KILL_ENV, None)
    if kill_at is not None:
        env[KILL_ENV] = str(kill_at)
    log = cwd / f"gad-{len(list(cwd.glob('gad-*.log')))}.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "gad", *args], cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    process.log = log  # type: ignore[attr-defined]
    return process


def finish(process: subprocess.Popen) -> tuple[int, str]:
    """Exit status and output of a started ``gad``."""
    process.wait(timeout=1200)
    return process.returncode, process.log.read_text()  # type: ignore[attr-defined]


def tensors(value, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor and number inside a checkpoint, by its path."""
    if isinstance(value, torch.Tensor):
        return {prefix: value}
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in tensors(item, f"{prefix}/{key}").items()}
    if isinstance(value, list | tuple):
        return {k: v for i, item in enumerate(value) for k, v in tensors(item, f"{prefix}/{i}").items()}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {prefix: torch.tensor(value)}
    return {}


@pytest.fixture(scope="module")
def fits(tmp_path_factory: pytest.TempPathFactory, quickstart_root: Path) -> dict[str, Path]:
    """An uninterrupted fit and a fit killed at step 7 then resumed; their run folders."""
    cwds, started = {}, {}
    for name in ("whole", "killed"):  # side by side
        cwd = cwds[name] = tmp_path_factory.mktemp(name)
        (cwd / "data").mkdir()
        (cwd / "data" / "quickstart").symlink_to(quickstart_root)
        (cwd / "resume.yaml").write_text(yaml.safe_dump(SETTINGS))
        config = ["--config", str(REPO / "configs" / "quickstart.yaml"), "--config", str(cwd / "resume.yaml")]
        started[name] = gad(cwd, "fit", *config, kill_at=7 if name == "killed" else None)
    code, err = finish(started["killed"])
    assert code == -signal.SIGKILL, err[-3000:]
    (killed,) = (cwds["killed"] / "runs").iterdir()
    assert run_status(killed) == "running"
    checkpoint = torch.load(killed / "checkpoints" / "last.ckpt", weights_only=True)
    assert (checkpoint["epoch"], checkpoint["global_step"]) == (1, 6)  # mid-epoch: 2 of 4 steps done
    code, err = finish(gad(cwds["killed"], "fit", "--run", str(killed), "--resume"))
    assert code == 0, err[-3000:]
    assert [p.name for p in (cwds["killed"] / "runs").iterdir()] == [killed.name], "resumed into another folder"
    code, err = finish(started["whole"])
    assert code == 0, err[-3000:]
    (whole,) = (cwds["whole"] / "runs").iterdir()
    assert run_status(whole) == run_status(killed) == "finished"
    return {"whole": whole, "killed": killed}


@pytest.mark.parametrize("name", ["last.ckpt", "best.ckpt"])
def test_killed_and_resumed_fit_equals_an_uninterrupted_one(fits: dict[str, Path], name: str) -> None:
    whole = torch.load(fits["whole"] / "checkpoints" / name, weights_only=True)
    resumed = torch.load(fits["killed"] / "checkpoints" / name, weights_only=True)
    assert (whole["epoch"], whole["global_step"]) == (resumed["epoch"], resumed["global_step"])
    if name == "last.ckpt":  # the best one is wherever val/pixel_ap peaked (either epoch): equal is what matters
        assert (resumed["epoch"], resumed["global_step"]) == (1, 8)
    for part in ("state_dict", "optimizer_states", "lr_schedulers", "callbacks"):
        expected, got = (
            {
                key.replace(str(run), "RUN"): value
                for key, value in tensors(checkpoint[part]).items()
                if not key.endswith("/current_score")
            }  # the score of the latest validation: not restored by Lightning
            for run, checkpoint in ((fits["whole"], whole), (fits["killed"], resumed))
        )
        assert expected.keys() == got.keys(), part
        different = [key for key in expected if not torch.equal(expected[key].cpu(), got[key].cpu())]
        assert not different, f"{part}: {len(different)} of {len(expected)} differ, e.g. {different[:3]}"


def test_resumed_run_keeps_its_config_and_reports_where_it_continues(fits: dict[str, Path]) -> None:
    saved = yaml.safe_load((fits["killed"] / "config.yaml").read_text())
    assert saved["ckpt_path"] is None  # the run's own config, not rewritten by the resume
    assert json.loads((fits["killed"] / STATUS_NAME).read_text())["status"] == "finished"


def test_resume_without_a_last_checkpoint_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "runs" / "empty").mkdir(parents=True)
    code, err = finish(gad(tmp_path, "fit", "--run", str(tmp_path / "runs" / "empty"), "--resume"))
    assert code != 0 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"gad: error: Nothing to resume: --run {tmp_path}")


def test_saved_config_keeps_nulls_and_refits_to_the_same_model(
    fits: dict[str, Path],
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``pretrained: null`` (random init) must not come back as the default ``openai`` on a re-fit."""
    from gad.cli import main

    saved = fits["whole"] / "config.yaml"
    assert yaml.safe_load(saved.read_text())["model"]["init_args"]["backbone"]["pretrained"] is None
    args = ["fit", "--config", str(saved), "--print_config"]
    monkeypatch.setattr(sys, "argv", ["gad", *args])
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code in (0, None)
    refit = yaml.safe_load(capsys.readouterr().out)
    assert refit["model"] == yaml.safe_load(saved.read_text())["model"]

"""Shared fixtures. The environment variables keep imports and loggers off the network."""

from __future__ import annotations

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from gad.data.quickstart import generate_quickstart  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# The tests' models are tiny: a second intra-op thread only adds synchronisation, and on a busy machine its
# spin-waiting costs several times the work (5x the CPU time of a tiny DictAS forward on 2 loaded cores).
# OMP_NUM_THREADS, when set, still decides.
if "OMP_NUM_THREADS" not in os.environ:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def quickstart_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default quickstart dataset, generated once per session (read-only for tests)."""
    return generate_quickstart(tmp_path_factory.mktemp("data") / "quickstart")


@pytest.fixture()
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quickstart_root: Path) -> Path:
    """Run from an empty folder whose data/quickstart is the session's dataset; runs/ go there too."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "quickstart").symlink_to(quickstart_root)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GAD_RUNS_DIR", raising=False)
    monkeypatch.delenv("GAD_OUTPUT_DIR", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def dictas_checkpoint(tmp_path_factory: pytest.TempPathFactory, quickstart_root: Path) -> Path:
    """A quickstart DictAS run trained for one step (one batch, one epoch) through ``gad fit`` (its best checkpoint), made once."""
    from tests.fixtures.cli import fit_run

    args = [
        "--config",
        REPO / "configs" / "quickstart.yaml",
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "1",
        "--trainer.limit_val_batches",
        "1",
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
    ]
    checkpoint = fit_run(tmp_path_factory.mktemp("dictas_run"), quickstart_root, *args) / "checkpoints" / "best.ckpt"
    assert checkpoint.is_file()
    return checkpoint

"""Each way gad's CLI departs from LightningCLI's defaults (cli/lightning_adapter.py), one test each."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from jsonargparse import Namespace

from gad.cli.lightning_adapter import (
    OUTPUT_ENV,
    check_checkpoint_method,
    hand_to_ddp,
    model_option_keys,
    reapply_model_options,
    shared_output_dir,
)
from gad.errors import ConfigError

PATCH_RESIDUAL = "gad.models.patch_residual.PatchResidual"


def test_model_option_keys_are_the_command_lines_model_options() -> None:
    argv = ["--model.init_args.alpha=0.5", "--shots", "2", "--model.beta", "1", "--data.seed", "1", "--model", "X"]
    assert model_option_keys(argv) == ["model.init_args.alpha", "model.beta"]


def test_options_given_with_a_checkpoint_win_over_its_hyperparameters() -> None:
    given = Namespace(ckpt_path="run.ckpt", model=Namespace(init_args=Namespace(alpha=0.5, beta=1, gamma=3)))
    loaded = Namespace(ckpt_path="run.ckpt", model=Namespace(init_args=Namespace(alpha=0.2, beta=2, gamma=4)))
    reapply_model_options(loaded, given, ["--model.init_args.alpha", "0.5", "--model.beta=1"])
    assert (loaded.model.init_args.alpha, loaded.model.init_args.beta, loaded.model.init_args.gamma) == (0.5, 1, 4)


def test_without_a_checkpoint_the_parsed_config_is_left_alone() -> None:
    given = Namespace(model=Namespace(init_args=Namespace(alpha=0.5)))
    parsed = Namespace(model=Namespace(init_args=Namespace(alpha=0.7)))
    reapply_model_options(parsed, given, ["--model.init_args.alpha", "0.5"])
    assert parsed.model.init_args.alpha == 0.7


@pytest.fixture()
def patch_residual_checkpoint(tmp_path: Path) -> str:
    path = tmp_path / "model.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"_class_path": PATCH_RESIDUAL}}, path)
    return str(path)


def test_a_checkpoint_of_another_method_is_refused(patch_residual_checkpoint: str) -> None:
    config = Namespace(ckpt_path=patch_residual_checkpoint, model=Namespace(class_path="gad.models.dictas.DictAS"))
    with pytest.raises(ConfigError, match=f"holds a {PATCH_RESIDUAL} but the config's model is gad.models.dictas"):
        check_checkpoint_method(config)


def test_a_checkpoint_of_the_same_class_under_another_path_is_taken(patch_residual_checkpoint: str) -> None:
    same = "gad.models.patch_residual.lightning_model.PatchResidual"
    check_checkpoint_method(Namespace(ckpt_path=patch_residual_checkpoint, model=Namespace(class_path=same)))


def test_ddp_processes_are_launched_with_the_resolved_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["/bin/gad", "test", "--shots", "2"])
    resolved = ["test", "--config", "runs/a/config.yaml", "--ckpt_path", "runs/a/best.ckpt", "--shots", "2"]
    hand_to_ddp(resolved, verbose=True)
    assert sys.argv == ["/bin/gad", *resolved, "--verbose"]


def test_ddp_processes_share_rank_zeros_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OUTPUT_ENV, "")  # restored after the test
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    made = tmp_path / "made_by_rank_0"
    assert shared_output_dir(lambda: made) == made  # rank 0: creates, and passes it on
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert shared_output_dir(lambda: pytest.fail("a launched DDP process created a folder")) == made


def test_a_rank_not_launched_by_gad_makes_its_own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OUTPUT_ENV, "")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert shared_output_dir(lambda: tmp_path / "own") == tmp_path / "own"

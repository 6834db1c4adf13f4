"""The gad command: help, configs, the quickstart fit + test, run selection and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.fixtures.cli import fit_run, run_gad

QUICKSTART = str(REPO / "configs" / "quickstart.yaml")
GAD = str(Path(sys.executable).parent / "gad")
FAST = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "2"]


def test_help_lists_commands() -> None:
    out = subprocess.run([GAD, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("fit", "validate", "test", "predict", "--shots", "gad data quickstart"):
        assert command in out


def test_print_config_is_complete(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_gad(monkeypatch, "fit", "--config", QUICKSTART, "--print_config")
    assert exit_info.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["seed_everything"] == 0
    assert config["model"]["init_args"]["backbone"]["model_name"] == "gad-tiny-vit"
    assert config["data"]["class_path"] == "gad.data.datamodule.FewShotDataModule"
    assert config["data"]["init_args"]["target"]["class_path"] == "gad.data.sources.QuickstartData"
    assert config["trainer"]["logger"]["class_path"].endswith("WandbLogger")


def test_trainer_presets_stack(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    presets = [f"--config={REPO / 'configs' / 'trainer' / name}.yaml" for name in ("ddp", "bf16")]
    with pytest.raises(SystemExit):
        run_gad(monkeypatch, "fit", "--config", QUICKSTART, *presets, "--print_config")
    trainer = yaml.safe_load(capsys.readouterr().out)["trainer"]
    assert (trainer["strategy"], trainer["devices"], trainer["precision"]) == ("ddp", 2, "bf16-mixed")


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory: pytest.TempPathFactory, quickstart_root: Path) -> Path:
    """One quickstart fit (wandb offline), in a folder whose runs/ holds only this run; the tests below read it."""
    return fit_run(
        tmp_path_factory.mktemp("cli_run"), quickstart_root, "--config", QUICKSTART, *FAST, WANDB_MODE="offline"
    )


@pytest.fixture()
def beside_run(quickstart_run: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work from the folder holding runs/, as a user who just ran ``gad fit``; returns the run."""
    monkeypatch.chdir(quickstart_run.parent.parent)
    monkeypatch.delenv("GAD_RUNS_DIR", raising=False)
    monkeypatch.delenv("GAD_OUTPUT_DIR", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    return quickstart_run


@pytest.mark.slow
def test_fit_writes_the_run_folder(quickstart_run: Path) -> None:
    assert (quickstart_run / "config.yaml").is_file() and (quickstart_run / "checkpoints" / "best.ckpt").is_file()
    assert list((quickstart_run / "wandb").glob("offline-run-*")), "wandb offline run folder missing"
    saved = yaml.safe_load((quickstart_run / "config.yaml").read_text())
    # relative to the folder gad fit ran in
    root = quickstart_run.parent.parent / saved["trainer"]["default_root_dir"]
    assert root.resolve() == quickstart_run.resolve()


@pytest.mark.slow
def test_test_takes_the_most_recent_run(
    beside_run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    capsys.readouterr()
    run_gad(monkeypatch, "test", "--shots", "8")
    captured = capsys.readouterr()
    assert f"most recent run {Path('runs') / beside_run.name}" in captured.err
    (test_dir,) = (beside_run / "test").glob("*_k8_seed0")
    results = json.loads((test_dir / "results.json").read_text())
    assert results["shots"] == 8 and list(results["results"]) == ["quickstart"]
    table = results["results"]["quickstart"]
    assert set(table) == {"gravel", "chelsea", "coins", "mean"}
    assert {"image_auroc", "pixel_auroc"} <= set(table["mean"])
    assert "| gravel |" in (test_dir / "results.md").read_text()
    manifest = json.loads((test_dir / "references_quickstart_k8_seed0.json").read_text())
    assert set(manifest["references"]) == {"gravel", "chelsea", "coins"}
    assert all(len(paths) == 8 for paths in manifest["references"].values())


@pytest.mark.slow
def test_test_of_a_named_run_with_other_shots_and_seed(beside_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_gad(monkeypatch, "test", "--run", str(beside_run), "--shots", "2", "--data.seed", "1")
    (test_dir,) = (beside_run / "test").glob("*_k2_seed1")
    assert json.loads((test_dir / "results.json").read_text())["shots"] == 2
    manifest = json.loads((test_dir / "references_quickstart_k2_seed1.json").read_text())
    assert all(len(paths) == 2 for paths in manifest["references"].values())


@pytest.mark.slow
def test_predict_on_the_most_recent_run(beside_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_gad(monkeypatch, "predict", "--shots", "1")
    (predict_dir,) = (beside_run / "predict").iterdir()
    rows = (predict_dir / "predictions.csv").read_text().splitlines()
    assert rows[0] == "dataset,category,path,score" and len(rows) == 1 + 3 * 18


def test_test_without_any_run_says_what_to_do(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit, match="No finished run.*gad fit --config"):
        run_gad(monkeypatch, "test", "--shots", "8")


def test_too_many_shots_is_one_clear_line(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit, match=r"gad: error: quickstart/\w+ has only 16 normal training images.*--shots 50"):
        run_gad(monkeypatch, "test", "--config", QUICKSTART, "--shots", "50", "--trainer.logger", "false")


@pytest.mark.slow
def test_missing_data_folder_names_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = [
        "test",
        "--config",
        QUICKSTART,
        "--trainer.logger",
        "false",
        "--data.init_args.target",
        "gad.data.sources.MVTecLayout",
        "--data.init_args.target.root",
        "nowhere",
    ]
    with pytest.raises(SystemExit, match=r"data folder nowhere does not exist. Expected the MVTec AD layout"):
        run_gad(monkeypatch, *args)


def test_image_size_mismatch(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit, match=r"preprocessing.image_size=96 but the backbone 'gad-tiny-vit' takes 64 px"):
        run_gad(
            monkeypatch,
            "test",
            "--config",
            QUICKSTART,
            "--model.init_args.preprocessing",
            '{"image_size": 96}',
            "--trainer.logger",
            "false",
        )


def test_unknown_model_name(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit, match="Unknown CLIP model 'gad-tiny-vt'. Did you mean gad-tiny-vit"):
        run_gad(monkeypatch, "test", "--config", QUICKSTART, "--model.init_args.backbone.model_name", "gad-tiny-vt")


def test_data_quickstart_command(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_gad(monkeypatch, "data", "quickstart", "--root", tmp_path / "qs", "--image_size", "48", "--n_train", "2")
    assert "dataset written to" in capsys.readouterr().out
    assert len(list((tmp_path / "qs" / "coins" / "train" / "good").iterdir())) == 2

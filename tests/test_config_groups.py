"""Configs as groups: every shipped config parses, the composed paper configs resolve to what the self-contained
files of before resolved to, and target sets replace a run's targets whole (categories included)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gad.cli import main

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
# The last commit with the self-contained configs (before they were split into groups).
BEFORE_GROUPS = "b827c36"
PAPER_CONFIGS = [
    "dictas_visa",
    "dictas_mvtec",
    "inctrl_mvtec",
    "inctrl_visa",
    "dictas_folder",
    "quickstart",
    "inctrl_quickstart",
    "patch_residual_quickstart",
]
# Deliberate changes since: a data config leaves the method's default training pipeline to the method, and the
# training-free baseline reads the quickstart data config (its batch size).
DATA_CHANGES = {
    "quickstart": lambda data: data.pop("train_pipeline"),
    "patch_residual_quickstart": lambda data: data.update(batch_size=8),
}
FULL_CONFIGS = sorted(str(p.relative_to(CONFIGS)) for d in ("", "trainer") for p in (CONFIGS / d).glob("*.yaml"))
TARGET_SETS = sorted(p.name for p in (CONFIGS / "targets").glob("*.yaml"))


def resolved(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> dict:
    """The config ``gad ARGS --print_config`` resolves, as a dict."""
    monkeypatch.setattr(sys, "argv", ["gad", *args, "--print_config"])
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--print_config"])
    assert exit_info.value.code in (0, None)
    return yaml.safe_load(capsys.readouterr().out)


@pytest.mark.parametrize("name", FULL_CONFIGS)
def test_every_config_parses(name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    base = [] if "/" not in name else ["--config", str(CONFIGS / "quickstart.yaml")]
    config = resolved(monkeypatch, capsys, "fit", *base, "--config", str(CONFIGS / name))
    assert config["model"]["class_path"].startswith("gad.models.")


GROUP_OPTIONS = {
    "model": "--model",
    "data": "--data",
    "logger": "--trainer.logger",
    "pipelines": "--data.init_args.train_pipeline",
    "callbacks": "--trainer.callbacks+",
}
GROUP_FILES = sorted(f"{g}/{p.name}" for g in GROUP_OPTIONS for p in (CONFIGS / g).glob("*.yaml"))


@pytest.mark.parametrize("name", GROUP_FILES)
def test_every_group_file_is_a_value(name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """A group file given on the command line replaces its value: the resolved class is the file's."""
    option = GROUP_OPTIONS[name.split("/")[0]]
    config = resolved(
        monkeypatch, capsys, "fit", "--config", str(CONFIGS / "quickstart.yaml"), option, str(CONFIGS / name)
    )
    value = config
    for key in option.lstrip("-").rstrip("+").split("."):
        value = value[key]
    value = value[-1] if isinstance(value, list) else value
    assert value["class_path"] == yaml.safe_load((CONFIGS / name).read_text())["class_path"]


@pytest.mark.parametrize("name", PAPER_CONFIGS)
def test_paper_config_resolves_as_before(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The composition gives the same config as the old self-contained file, except the deliberate changes: every
    config logs to the wandb project ``gad`` (the runs are grouped and tagged by method and data), and
    ``DATA_CHANGES``."""
    try:
        old_text = subprocess.run(
            ["git", "show", f"{BEFORE_GROUPS}:configs/{name}.yaml"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"git history with commit {BEFORE_GROUPS} is not available")
    old = yaml.safe_load(old_text)
    old["trainer"]["logger"]["init_args"]["project"] = "gad"
    DATA_CHANGES.get(name, lambda data: None)(old["data"]["init_args"])
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(old))
    expected = resolved(monkeypatch, capsys, "fit", "--config", str(tmp_path / "old.yaml"))
    assert resolved(monkeypatch, capsys, "fit", "--config", str(CONFIGS / f"{name}.yaml")) == expected


def test_no_config_inlines_logger_or_checkpoint_blocks() -> None:
    for path in CONFIGS.glob("*.yaml"):
        trainer = yaml.safe_load(path.read_text())["trainer"]
        assert isinstance(trainer["logger"], str), path
        assert all(isinstance(c, str) for c in trainer.get("callbacks", [])), path  # none: a method with no fit


def _targets(config: dict) -> list[dict]:
    target = config["data"]["init_args"]["target"]
    return target if isinstance(target, list) else [target]


@pytest.mark.slow  # the session's DictAS run (a gad fit)
@pytest.mark.parametrize("name", TARGET_SETS)
def test_target_set_replaces_a_runs_targets(
    name: str, dictas_checkpoint: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """After a run's config (quickstart targets with a category list), a target set's readers get exactly the
    arguments it gives and their defaults: nothing of the run's target (categories, name) is carried over. With
    only a checkpoint (no run config) the same target set resolves to the same targets."""
    run = dictas_checkpoint.parents[1]
    given = _targets(yaml.safe_load((CONFIGS / "targets" / name).read_text()))
    with_run = _targets(resolved(monkeypatch, capsys, "test", "--run", str(run), "-c", str(CONFIGS / "targets" / name)))
    alone = _targets(
        resolved(
            monkeypatch, capsys, "test", "--ckpt_path", str(dictas_checkpoint), "-c", str(CONFIGS / "targets" / name)
        )
    )
    assert [t["class_path"] for t in with_run] == [t["class_path"] for t in given]
    for target, spec in zip(with_run, given, strict=True):
        assert target["init_args"]["categories"] is None
        assert target["init_args"]["name"] == spec["init_args"].get("name")
        assert {k: target["init_args"][k] for k in spec["init_args"]} == spec["init_args"]
    assert with_run == alone


@pytest.mark.slow  # a gad test of a trained run on every quickstart category
def test_run_tested_on_a_target_set(dictas_checkpoint: Path, in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``gad test --run RUN -c TARGETS``: all categories of the new target are tested, not the run's three."""
    (in_tmp / "all.yaml").write_text(
        "data:\n  class_path: gad.data.datamodule.FewShotDataModule\n  init_args:\n    target:\n"
        "      class_path: gad.data.sources.QuickstartData\n      init_args: {root: data/quickstart, name: all}\n"
    )
    run = dictas_checkpoint.parents[1]
    args = [
        "test",
        "--run",
        str(run),
        "-c",
        "all.yaml",
        "--shots",
        "2",
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
    ]
    monkeypatch.setattr(sys, "argv", ["gad", *args])
    main(args)
    (results,) = sorted((run / "test").glob("*/results.json"), key=lambda p: p.stat().st_mtime)[-1:]
    categories = set(json.loads(results.read_text())["results"]["all"]) - {"mean"}
    assert categories == {"brick", "chelsea", "coffee", "coins", "grass", "gravel"}


def test_fit_without_auxiliary_says_so(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    args = [
        "fit",
        "--model",
        str(CONFIGS / "model" / "patch_residual_tiny.yaml"),
        "-c",
        str(CONFIGS / "targets" / "mvtec.yaml"),
        "--trainer.logger",
        "false",
    ]
    monkeypatch.setattr(sys, "argv", ["gad", *args])
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert "data.auxiliary is missing" in str(exit_info.value.code)


def test_target_cleared_only_before_a_later_config_that_sets_one(tmp_path: Path) -> None:
    from gad.cli.target_sets import CLEAR_TARGET, replace_targets

    run, targets, trainer = (
        str(CONFIGS / "quickstart.yaml"),
        str(CONFIGS / "targets" / "visa.yaml"),
        str(CONFIGS / "trainer" / "cpu.yaml"),
    )
    assert replace_targets(["test", "-c", run, "-c", trainer, f"--config={targets}"]) == [
        "test",
        "-c",
        run,
        "-c",
        trainer,
        *CLEAR_TARGET,
        f"--config={targets}",
    ]
    assert replace_targets(["test", "--ckpt_path", "x.ckpt", "-c", targets]) == [
        "test",
        "--ckpt_path",
        "x.ckpt",
        "-c",
        targets,
    ]

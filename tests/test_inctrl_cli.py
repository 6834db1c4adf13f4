"""InCTRL through the gad command: quickstart fit + test, a 2-process DDP fit, and the paper configs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.fixtures.cli import run_gad

CONFIGS = REPO / "configs"


@pytest.mark.slow
def test_quickstart_fit_then_test(in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    fast = [
        "--trainer.max_epochs",
        "1",
        "--trainer.logger",
        "false",
        "--data.init_args.train_pipeline.init_args.steps_per_epoch",
        "3",
    ]
    run_gad(monkeypatch, "fit", "--config", str(CONFIGS / "inctrl_quickstart.yaml"), *fast)
    (run,) = (in_tmp / "runs").iterdir()
    assert run.name.endswith("_inctrl_quickstart") and (run / "checkpoints" / "last.ckpt").is_file()

    capsys.readouterr()
    run_gad(monkeypatch, "test", "--shots", "8", "--trainer.logger", "false")
    (test_dir,) = (run / "test").iterdir()
    results = json.loads((test_dir / "results.json").read_text())
    assert results["shots"] == 8
    table = results["results"]["quickstart"]
    assert set(table) == {"gravel", "chelsea", "coins", "mean"}
    for metric in ("image_auroc", "image_ap", "pixel_auroc", "pixel_ap"):  # the mean row averages the categories
        assert table["mean"][metric] == pytest.approx(sum(table[c][metric] for c in ("gravel", "chelsea", "coins")) / 3)
    assert "coins" in capsys.readouterr().out


@pytest.mark.ddp
@pytest.mark.slow
def test_ddp_bf16_fit_on_two_processes(tmp_path: Path, quickstart_root: Path) -> None:
    """Balanced batches under DDP (Lightning re-creates the batch sampler per rank), as a subprocess: DDP inside
    pytest would re-run the session."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "quickstart").symlink_to(quickstart_root)
    env = {k: v for k, v in os.environ.items() if k not in ("GAD_OUTPUT_DIR", "GAD_RUNS_DIR", "LOCAL_RANK")}
    command = [
        str(Path(sys.executable).parent / "gad"),
        "fit",
        "--config",
        str(CONFIGS / "inctrl_quickstart.yaml"),
        "--config",
        str(CONFIGS / "trainer" / "ddp.yaml"),
        "--config",
        str(CONFIGS / "trainer" / "bf16.yaml"),
        "--trainer.max_epochs",
        "1",
        "--trainer.logger",
        "false",
        "--data.init_args.train_pipeline.init_args.steps_per_epoch",
        "3",
        "--verbose",  # Lightning's "MEMBER: 2/2" lines are quiet by default
    ]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "MEMBER: 2/2" in done.stderr + done.stdout, "did not run on 2 processes"
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.parametrize("name", ["inctrl_mvtec", "inctrl_visa"])
def test_paper_configs_show_the_paper_settings(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_gad(monkeypatch, "fit", "--config", str(CONFIGS / f"{name}.yaml"), "--print_config")
    assert exit_info.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    model, data = config["model"]["init_args"], config["data"]["init_args"]
    assert config["seed_everything"] == 10 and config["trainer"]["max_epochs"] == 10
    assert model["backbone"] == {
        "model_name": "ViT-B-16-plus-240",
        "pretrained": "laion400m_e32",
        "layers": [7, 9, 11],
        "image_size": 240,
        "quick_gelu": None,
        "cache_dir": None,
        "model_config": None,
    }
    assert (model["lr"], model["patch_weight"], model["focal_gamma"]) == (1e-3, 1.0, 2.0)
    assert data["batch_size"] == 16 and "center_crop" not in data and model["preprocessing"] is None  # shorter_side
    pipeline = data["train_pipeline"]
    assert pipeline["class_path"] == "gad.models.inctrl.InCTRLTrainingPipeline"
    assert pipeline["init_args"]["steps_per_epoch"] == 100 and pipeline["init_args"]["seed"] == 10
    assert pipeline["init_args"]["synthetic_anomalies"] is False  # real labelled anomalies, as the paper
    targets = data["target"] if isinstance(data["target"], list) else [data["target"]]
    names = [t["init_args"].get("name") or t["class_path"].rsplit(".", 1)[-1].lower() for t in targets]
    expected = (
        [
            "elpv",
            "kolektorsdd",
            "aitex",
            "visa",
            "brainmri",
            "headct",
            "mnist_one_vs_all",
            "cifar10_one_vs_all",
            "mnist_multi_class",
            "cifar10_multi_class",
        ]
        if name == "inctrl_mvtec"
        else ["mvtec"]
    )
    assert names == expected

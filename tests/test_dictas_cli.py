"""DictAS through the gad command: the quickstart config trains and tests; the paper configs parse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import REPO
from tests.fixtures.cli import run_gad

CONFIGS = REPO / "configs"
METRICS = {"image_auroc", "image_ap", "pixel_auroc", "pixel_ap"}


@pytest.mark.slow
def test_quickstart_fit_then_test(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_gad(
        monkeypatch,
        "fit",
        "--config",
        str(CONFIGS / "quickstart.yaml"),
        "--trainer.max_epochs",
        "2",
        "--trainer.limit_train_batches",
        "2",
        "--trainer.limit_val_batches",
        "2",
        "--trainer.logger",
        "false",
    )
    (run,) = (in_tmp / "runs").iterdir()
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert "dictas_value_phase" in checkpoint
    assert any(k.startswith("model.generators.value.") for k in checkpoint["state_dict"])

    run_gad(
        monkeypatch,
        "test",
        "--shots",
        "2",
        "--model.init_args.normalize_test_scores",
        "true",
        "--model.init_args.alpha",
        "0.5",
    )
    (test_dir,) = (run / "test").iterdir()
    results = json.loads((test_dir / "results.json").read_text())
    assert results["shots"] == 2
    # options given with a checkpoint win over its hyperparameters (Lightning alone would drop them)
    tested = yaml.safe_load((test_dir / "config.yaml").read_text())["model"]["init_args"]
    assert (tested["alpha"], tested["normalize_test_scores"]) == (0.5, True)
    table = results["results"]["quickstart"]
    assert set(table) == {"gravel", "chelsea", "coins", "mean"}
    assert METRICS <= set(table["mean"])
    for metric in METRICS:  # the mean row is the mean over the three categories, each a defined number
        assert table["mean"][metric] == pytest.approx(sum(table[c][metric] for c in ("gravel", "chelsea", "coins")) / 3)


@pytest.mark.parametrize("name", ["dictas_visa", "dictas_mvtec"])
def test_paper_configs_parse(name: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_gad(monkeypatch, "fit", "--config", str(CONFIGS / f"{name}.yaml"), "--print_config")
    assert exit_info.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    model = config["model"]["init_args"]
    assert config["seed_everything"] == 222 and config["trainer"]["max_epochs"] == 30
    assert model["backbone"] == {
        "model_name": "ViT-L-14-336",
        "pretrained": "openai",
        "layers": [6, 12, 18, 24],
        "image_size": 336,
        "quick_gelu": False,
        "cache_dir": None,
        "model_config": None,
    }
    assert (model["lookup"], model["scales"], model["lambda_cqc"], model["lambda_tac"]) == ("sparse", [1, 3], 0.1, 0.1)
    assert (model["lr"], model["betas"]) == (1e-4, [0.5, 0.999])
    data = config["data"]["init_args"]
    assert (
        data["batch_size"] == 24 and "image_size" not in data and model["preprocessing"] is None
    )  # the default: squash
    auxiliary = data["auxiliary"]["init_args"]["name"]
    targets = data["target"] if isinstance(data["target"], list) else [data["target"]]
    target_names = [t["init_args"]["name"] for t in targets]
    assert (auxiliary, "visa" not in target_names) == (("visa", True) if name == "dictas_visa" else ("mvtec", False))

"""``gad fit`` on auxiliary sets of normal images only (MVTec layout without test/, Folder without abnormal/):
DictAS and InCTRL with synthetic anomalies, validated on the synthetic proxy; the README's own-folder example."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.fixtures.cli import run_gad

pytestmark = pytest.mark.slow

CONFIGS = REPO / "configs"
AUXILIARY = ("brick", "grass", "coffee")
PROXY_LINE = "has no test split"


def normal_only(quickstart_root: Path, root: Path, layout: str) -> Path:
    """The auxiliary categories' normal training images, as an MVTec layout (``train/good``, no ``test``) or a
    Folder layout (``normal/``, no ``abnormal``)."""
    for category in AUXILIARY:
        inner = Path("train/good") if layout == "mvtec" else Path("normal")
        shutil.copytree(quickstart_root / category / "train" / "good", root / category / inner)
    return root


def auxiliary_config(tmp_path: Path, root: Path, layout: str) -> Path:
    reader = "MVTecLayout" if layout == "mvtec" else "Folder"
    config = {
        "data": {
            "init_args": {
                "auxiliary": {
                    "class_path": f"gad.data.sources.{reader}",
                    "init_args": {"root": str(root), "name": "own"},
                }
            }
        }
    }
    path = tmp_path / "auxiliary.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(("method", "layout"), [("dictas", "mvtec"), ("inctrl", "folder"), ("inctrl", "mvtec")])
def test_fit_on_normal_images_only(
    method: str,
    layout: str,
    in_tmp: Path,
    quickstart_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = normal_only(quickstart_root, in_tmp / "normal_only", layout)
    if method == "dictas":
        config = [str(CONFIGS / "quickstart.yaml")]
        fast = ["--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1"]
        monitored = "best.ckpt"
    else:
        config = [str(CONFIGS / "inctrl_quickstart.yaml")]
        fast = [
            "--data.init_args.train_pipeline.init_args.steps_per_epoch",
            "1",
            "--data.init_args.train_pipeline.init_args.synthetic_anomalies",
            "true",
        ]
        monitored = "last.ckpt"
    args = [
        "fit",
        "--config",
        config[0],
        "--config",
        str(auxiliary_config(in_tmp, root, layout)),
        "--trainer.max_epochs",
        "1",
        "--trainer.logger",
        "false",
        *fast,
    ]
    with caplog.at_level(logging.INFO):
        run_gad(monkeypatch, *args)
    (line,) = [r.getMessage() for r in caplog.records if PROXY_LINE in r.getMessage()]
    assert "12 held-out normal images" in line and "6 of them with synthetic anomalies" in line  # 3 x 20 % of 16
    (run,) = (in_tmp / "runs").iterdir()
    assert (run / "checkpoints" / monitored).is_file()
    (manifest,) = run.glob("references_own_k*.json")
    held_out = {Path(p).name for p in json.loads(manifest.read_text())["references"]["brick"]}
    assert held_out  # references drawn for the proxy validation


def test_fit_without_synthesis_needs_the_test_split(
    in_tmp: Path, quickstart_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """InCTRL trained on labelled anomalies: a normal-only auxiliary set is refused in one line naming the folder."""
    root = normal_only(quickstart_root, in_tmp / "normal_only", "mvtec")
    args = [
        "fit",
        "--config",
        str(CONFIGS / "inctrl_quickstart.yaml"),
        "--config",
        str(auxiliary_config(in_tmp, root, "mvtec")),
        "--trainer.max_epochs",
        "1",
        "--trainer.logger",
        "false",
    ]
    with pytest.raises(SystemExit) as exit_info:
        run_gad(monkeypatch, *args)
    message = str(exit_info.value.code)
    assert message.startswith("gad: error: own: missing folder") and "\n" not in message
    assert f"missing folder {root / 'brick' / 'test'}: brick has no test split" in message


def test_readme_own_folder_example(in_tmp: Path, quickstart_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """configs/dictas_folder.yaml on a generated data/own: train on normal folders, test on a few defects."""
    normal_only(quickstart_root, in_tmp / "data" / "own" / "train", "folder")
    product = in_tmp / "data" / "own" / "test" / "coins"
    shutil.copytree(quickstart_root / "coins" / "train" / "good", product / "normal")
    for defect in ("scratch", "hole"):
        shutil.copytree(quickstart_root / "coins" / "test" / defect, product / "abnormal" / defect)
    tiny = in_tmp / "tiny.yaml"  # the tiny random CLIP of the quickstart instead of ViT-L-14-336
    tiny.write_text(
        yaml.safe_dump(
            {
                "model": {
                    "init_args": {
                        "sigma": 2.0,
                        "backbone": {
                            "model_name": "gad-tiny-vit",
                            "pretrained": None,
                            "layers": [1, 2, 3, 4],
                            "image_size": 112,
                        },
                    }
                },
                "data": {"init_args": {"num_workers": 0}},
                "trainer": {
                    "accelerator": "cpu",
                    "max_epochs": 1,
                    "limit_train_batches": 2,
                    "limit_val_batches": 1,
                    "logger": False,
                },
            }
        )
    )
    run_gad(monkeypatch, "fit", "--config", str(CONFIGS / "dictas_folder.yaml"), "--config", str(tiny))
    (run,) = (in_tmp / "runs").iterdir()
    assert (run / "checkpoints" / "best.ckpt").is_file()
    run_gad(monkeypatch, "test", "--shots", "2", "--trainer.logger", "false")
    (test_dir,) = (run / "test").iterdir()
    table = json.loads((test_dir / "results.json").read_text())["results"]["own"]
    assert set(table) == {"coins", "mean"} and "image_auroc" in table["coins"] and "pixel_auroc" not in table["coins"]

"""Result files and tables of gad test, the shots x seeds sweep of gad benchmark, and what wandb receives."""

from __future__ import annotations

import json
from pathlib import Path

import lightning.pytorch as pl
import pandas as pd
import pytest
import yaml
from lightning.pytorch.loggers import WandbLogger

from gad.callbacks import ResultsWriter
from gad.data.datamodule import FewShotDataModule
from gad.data.sources import QuickstartData
from gad.models.components.clip_backbone import ClipConfig
from gad.models.patch_residual import PatchResidual
from gad.reporting import sweep_markdown
from tests.conftest import REPO
from tests.fixtures.cli import run_gad

BASELINE = str(REPO / "configs" / "patch_residual_quickstart.yaml")  # training-free: no fit needed
ALL_METRICS = {
    "image_auroc",
    "image_ap",
    "image_f1_max",
    "pixel_auroc",
    "pixel_ap",
    "pixel_f1_max",
    "pixel_aupro",
    "pixel_aupro_cflow200",
}


def test_sweep_table_has_mean_and_std_over_seeds() -> None:
    records = pd.DataFrame(
        [
            {"dataset": d, "category": c, "shots": k, "seed": s, "metric": "image_auroc", "value": v}
            for d, c, k, s, v in [
                ("x", "mean", 1, 0, 0.5),
                ("x", "mean", 1, 1, 0.7),
                ("x", "mean", 2, 0, 0.9),
                ("x", "mean", 2, 1, 0.9),
                ("y", "mean", 1, 0, 0.1),
                ("y", "mean", 1, 1, 0.3),
                ("y", "mean", 2, 0, float("nan")),
                ("y", "mean", 2, 1, 0.5),
            ]
        ]
    )
    text = sweep_markdown(records)
    assert "| dataset | 1-shot | 2-shot |" in text
    assert "| x | 60.0 ± 14.1 | 90.0 ± 0.0 |" in text
    assert "| y | 20.0 ± 14.1 | 50.0 |" in text  # the NaN seed is left out, one value left: no std
    assert "| mean over datasets | 40.0 ± 14.1 | 80.0 ± 14.1 |" in text  # seed 0: x alone (y undefined)


@pytest.mark.slow  # eight gad test runs
def test_gad_benchmark_writes_a_shots_by_seeds_table(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    targets = []
    for name, category in (("set_a", "coins"), ("set_b", "gravel")):
        source = {
            "class_path": "gad.data.sources.QuickstartData",
            "init_args": {"root": "data/quickstart", "categories": [category], "name": name},
        }
        (in_tmp / f"{name}.yaml").write_text(yaml.safe_dump({"data": {"init_args": {"target": source}}}))
        targets.append(f"{name}.yaml")
    run_gad(
        monkeypatch,
        "benchmark",
        "--shots",
        "1",
        "2",
        "--seeds",
        "0",
        "1",
        "--targets",
        *targets,
        "--",
        "--config",
        BASELINE,
        "--trainer.logger",
        "false",
    )
    (folder,) = (in_tmp / "runs").glob("*_benchmark")
    records = pd.read_csv(folder / "benchmark.csv")
    assert sorted(set(zip(records["dataset"], records["shots"], records["seed"]))) == [
        (d, k, s) for d in ("set_a", "set_b") for k in (1, 2) for s in (0, 1)
    ]
    assert set(records["metric"]) == ALL_METRICS
    assert set(records[records["dataset"] == "set_b"]["category"]) == {"gravel", "mean"}
    text = (folder / "benchmark.md").read_text()
    assert "| dataset | 1-shot | 2-shot |" in text and "±" in text and "### AUPRO-cflow200" in text
    assert "| mean over datasets |" in text and "| set_a / coins |" in text
    tests = json.loads((folder / "benchmark.json").read_text())["tests"]
    assert len(tests) == 8 and all((Path(t["folder"]) / "results.json").is_file() for t in tests)
    assert all(list(Path(t["folder"]).glob("references_set_*_k*_seed*.json")) for t in tests)


def test_gad_test_logs_offline_to_wandb_without_api_key(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(in_tmp))  # no ~/.netrc
    run_gad(
        monkeypatch,
        "test",
        "--config",
        BASELINE,
        "--shots",
        "1",
        "--trainer.logger.init_args.offline",
        "false",
        "--results.overlays",
        "2",
        "--results.save_overlays",
        "true",
    )
    (folder,) = (in_tmp / "runs").iterdir()
    assert "AUPRO-cflow200" in capsys.readouterr().out and "| coins |" in (folder / "results.md").read_text()
    logger = yaml.safe_load((folder / "config.yaml").read_text())["trainer"]["logger"]["init_args"]
    assert logger["offline"] is True
    assert logger["name"] == "test-patchresidual-quickstart-to-quickstart-k1-seed0"
    assert logger["group"] == "patchresidual-quickstart" and "k1" in logger["tags"]
    (offline,) = (folder / "wandb").glob("offline-run-*")
    assert list((offline / "files" / "media" / "table").rglob("*.table.json"))
    assert {p.parent.name for p in (offline / "files" / "media" / "images").rglob("*.png")} == {"quickstart"}
    pngs = sorted(p.name for p in (folder / "overlays" / "quickstart").glob("*.png"))
    assert len(pngs) == 6 and pngs[0].startswith("best_anomalous_0_")


def test_wandb_receives_tables_overlays_and_files(
    quickstart_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    datamodule = FewShotDataModule(
        QuickstartData(str(quickstart_root), ["brick"]), QuickstartData(str(quickstart_root), ["coins"]), shots=1
    )
    logger = WandbLogger(save_dir=str(tmp_path), offline=True, project="gad-test")
    writer = ResultsWriter(overlays=1)
    trainer = pl.Trainer(
        accelerator="cpu", logger=logger, callbacks=[writer], enable_progress_bar=False, default_root_dir=str(tmp_path)
    )
    try:
        trainer.test(PatchResidual(ClipConfig("gad-tiny-vit", None, [1, 2])), datamodule=datamodule, verbose=False)
        summary = logger.experiment.summary
        assert summary["test/quickstart/table"]["_type"] == "table-file"
        assert summary["test/overlays/quickstart/worst_normal"]["count"] == 1
        assert summary["test/report/images"]["_type"] == "table-file" and summary["test/report/images"]["nrows"] == 18
        assert summary["test/report/defects"]["nrows"] == 5  # good and the four defect types of coins
        assert summary["test/report/curves/quickstart/coins"]["_type"] == "image-file"
        assert summary["test/report/panels/quickstart/coins"]["count"] == 8
        assert (tmp_path / "report" / "report.html").is_file()
        written = json.loads((tmp_path / "results.json").read_text())["results"]["quickstart"]["coins"]
        assert summary["test/quickstart/coins/pixel_aupro"] == pytest.approx(written["pixel_aupro"])
        from gad.tracking import log_evaluation

        files = [tmp_path / "results.json", tmp_path / "references_quickstart_k1_seed0.json"]
        (artifact,) = log_evaluation(trainer, "test", {}, {}, files, tmp_path)
        assert set(artifact.manifest.entries) == {"results.json", "references_quickstart_k1_seed0.json"}
    finally:
        logger.experiment.finish()

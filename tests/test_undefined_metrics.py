"""Undefined metrics are reported per dataset, category and metric with the reason; ``gad test`` fails on them
unless ``--allow_undefined_metrics``; ``results.json`` stays strict JSON (null, not NaN)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from gad.metrics.anomaly_metrics import AnomalyMetrics, MetricSettings
from gad.reporting import markdown_table, write_results
from tests.fixtures.cli import run_gad

IMAGE_KEYS = ["image_auroc", "image_ap", "image_f1_max"]
PIXEL_KEYS = ["pixel_auroc", "pixel_ap", "pixel_f1_max", "pixel_aupro", "pixel_aupro_cflow200"]


def _refuse(constant: str) -> None:
    raise ValueError(f"not strict JSON: {constant}")


def strict_load(text: str) -> dict:
    return json.loads(text, parse_constant=_refuse)


def _metrics(labels: list[int], masks: torch.Tensor | None = None) -> AnomalyMetrics:
    """Two categories: ``a`` as given, ``b`` with both classes and non-empty masks on its anomalous image."""
    metric = AnomalyMetrics(["a", "b"], MetricSettings(aupro=["exact", "cflow200"]))
    count = len(labels)
    maps = torch.linspace(0, 1, count * 16).reshape(count, 4, 4)
    masks = torch.zeros(count, 4, 4) if masks is None else masks
    metric.update(
        torch.zeros(count),
        torch.arange(count, dtype=torch.float),
        torch.tensor(labels),
        maps,
        masks,
        torch.arange(count),
    )
    good_mask = torch.zeros(2, 4, 4)
    good_mask[1, :2, :2] = 1
    metric.update(
        torch.ones(2),
        torch.tensor([0.1, 0.9]),
        torch.tensor([0, 1]),
        torch.rand(2, 4, 4),
        good_mask,
        torch.arange(count, count + 2),
    )
    return metric


def test_only_normal_images_say_which_metrics_and_why() -> None:
    metric = _metrics([0, 0, 0])
    results = metric.compute()
    assert all(math.isnan(results["a"][k]) for k in IMAGE_KEYS + PIXEL_KEYS)
    assert metric.undefined["a"] == {
        **{k: "no anomalous test image (3 normal)" for k in IMAGE_KEYS},
        **{k: "no anomalous pixel: no anomalous test image" for k in PIXEL_KEYS},
    }
    assert "b" not in metric.undefined and not math.isnan(results["b"]["image_auroc"])


def test_only_anomalous_images_say_so() -> None:
    masks = torch.zeros(2, 4, 4)
    masks[:, 1:3, 1:3] = 1
    metric = _metrics([1, 1], masks)
    results = metric.compute()
    assert metric.undefined["a"] == {k: "no normal test image (2 anomalous)" for k in IMAGE_KEYS}
    assert not math.isnan(results["a"]["pixel_auroc"])  # the masks hold both kinds of pixels


def test_all_zero_masks_on_anomalous_images_are_named() -> None:
    metric = _metrics([0, 1, 1])
    metric.compute()
    reason = "no anomalous pixel: the masks of all 2 anomalous images are empty (all zero)"
    assert metric.undefined["a"] == {k: reason for k in PIXEL_KEYS}


def test_results_json_is_strict_and_says_why(tmp_path: Path) -> None:
    metric = _metrics([0, 0, 0])
    by_dataset = {"data": metric.compute()}
    write_results(by_dataset, tmp_path, {"title": "t"}, {"data": metric.undefined})
    saved = strict_load((tmp_path / "results.json").read_text())
    assert saved["results"]["data"]["a"]["image_auroc"] is None
    assert saved["results"]["data"]["b"]["image_auroc"] == pytest.approx(1.0)
    assert saved["undefined"]["data"]["a"]["pixel_ap"] == "no anomalous pixel: no anomalous test image"
    row = next(line for line in (tmp_path / "results.md").read_text().splitlines() if line.startswith("| a |"))
    assert row.split("|")[2].strip() == "-"


def test_strict_json_check_would_catch_nan() -> None:
    with pytest.raises(ValueError, match="not strict JSON"):
        strict_load(json.dumps({"x": math.nan}))
    assert markdown_table({"a": {"image_auroc": math.nan}}).splitlines()[-1] == "| a | - |"


# ----- gad test -------------------------------------------------------------------------------------------
def _normals_only_target(root: Path, quickstart_root: Path) -> Path:
    """An MVTec-layout target whose one category has normal test images only, and its test config."""
    category = root / "normals" / "gravel"
    shutil.copytree(quickstart_root / "gravel" / "train", category / "train")
    shutil.copytree(quickstart_root / "gravel" / "test" / "good", category / "test" / "good")
    config = root / "target.yaml"
    config.write_text(
        "data:\n  init_args:\n    target:\n      class_path: gad.data.sources.MVTecAD\n"
        f"      init_args: {{root: {root / 'normals'}, name: normals, categories: [gravel]}}\n"
    )
    return config


def _gad_test(monkeypatch: pytest.MonkeyPatch, checkpoint: Path, *args: str) -> None:
    run = checkpoint.parent.parent
    argv = ["test", "--run", str(run), "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", *args]
    run_gad(monkeypatch, *argv)


@pytest.mark.slow
def test_gad_test_fails_on_undefined_metrics_unless_allowed(
    in_tmp: Path,
    dictas_checkpoint: Path,
    quickstart_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    config = _normals_only_target(in_tmp, quickstart_root)
    with pytest.raises(SystemExit) as exit_info:
        _gad_test(monkeypatch, dictas_checkpoint, "--config", str(config))
    line = str(exit_info.value.code)
    assert line.startswith(
        "gad: error: normals/gravel: image_auroc, image_ap, image_f1_max undefined: no anomalous "
        "test image (6 normal) (and 1 more, listed above and in results.json)."
    )
    assert "--allow_undefined_metrics true" in line
    assert "normals/gravel: pixel_auroc, pixel_ap" in capsys.readouterr().out

    _gad_test(monkeypatch, dictas_checkpoint, "--config", str(config), "--allow_undefined_metrics", "true")
    newest = max(dictas_checkpoint.parent.parent.glob("test/*/results.json"), key=lambda p: p.stat().st_mtime)
    saved = strict_load(newest.read_text())
    assert saved["results"]["normals"]["gravel"]["image_auroc"] is None
    assert saved["undefined"]["normals"]["gravel"]["image_auroc"] == "no anomalous test image (6 normal)"


def test_benchmark_json_is_strict(tmp_path: Path) -> None:
    import pandas as pd

    from gad.cli.benchmark_command import write_sweep

    records = pd.DataFrame(
        [
            {"dataset": "d", "category": "a", "shots": 1, "seed": 0, "metric": "image_auroc", "value": math.nan},
            {"dataset": "d", "category": "mean", "shots": 1, "seed": 0, "metric": "image_auroc", "value": 0.75},
        ]
    )
    write_sweep(records, tmp_path, {"shots": [1], "seeds": [0]})
    saved = strict_load((tmp_path / "benchmark.json").read_text())
    assert [row["value"] for row in saved["results"]] == [None, 0.75]

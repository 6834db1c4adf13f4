"""Evaluation through the Python API: a target suite, per-dataset results, metrics with known answers."""

from __future__ import annotations

import math
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from gad.data.datamodule import FewShotDataModule
from gad.data.sources import QuickstartData
from gad.metrics.anomaly_metrics import AnomalyMetrics
from gad.models.base import flatten_results
from gad.models.components.clip_backbone import ClipConfig
from gad.models.patch_residual import PatchResidual
from gad.reporting import write_results


def test_metrics_on_hand_made_scores() -> None:
    metrics = AnomalyMetrics(["a", "b"])
    maps = torch.zeros(4, 1, 2, 2)
    masks = torch.zeros(4, 1, 2, 2)
    maps[1, 0, 0, 0] = masks[1, 0, 0, 0] = 1  # category a: perfect pixel ranking
    metrics.update(
        torch.tensor([0, 0, 1, 1]), torch.tensor([0.1, 0.9, 0.8, 0.2]), torch.tensor([0, 1, 0, 1]), maps, masks
    )
    results = metrics.compute()
    assert results["a"]["image_auroc"] == 1.0 and results["b"]["image_auroc"] == 0.0
    assert results["a"]["pixel_auroc"] == 1.0 and results["a"]["pixel_ap"] == 1.0
    assert math.isnan(results["b"]["pixel_auroc"])  # no anomalous pixel in b: undefined, not 0
    assert results["mean"]["image_auroc"] == 0.5 and results["mean"]["pixel_auroc"] == 1.0


def test_flatten_results_of_a_suite() -> None:
    by_dataset = {
        "x": {"c1": {"image_auroc": 0.5}, "mean": {"image_auroc": 0.5}},
        "y": {"c2": {"image_auroc": 1.0}, "mean": {"image_auroc": 1.0}},
    }
    flat = flatten_results(by_dataset)
    assert flat["x/c1"] == {"image_auroc": 0.5} and flat["y"] == {"image_auroc": 1.0}
    assert flat["mean"] == {"image_auroc": 0.75}
    assert flatten_results({"x": by_dataset["x"]}) == by_dataset["x"]


def test_target_suite_reports_each_dataset(quickstart_root: Path, tmp_path: Path) -> None:
    targets = [
        QuickstartData(str(quickstart_root), ["coins"], name="suite_a"),
        QuickstartData(str(quickstart_root), ["gravel", "chelsea"], name="suite_b"),
    ]
    datamodule = FewShotDataModule(QuickstartData(str(quickstart_root), ["brick"]), targets, shots=2, batch_size=8)
    model = PatchResidual(ClipConfig("gad-tiny-vit", None, [1, 2]))
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, default_root_dir=str(tmp_path))
    trainer.test(model, datamodule=datamodule, verbose=False)
    assert list(model.results_by_dataset) == ["suite_a", "suite_b"]
    assert set(model.results_by_dataset["suite_b"]) == {"gravel", "chelsea", "mean"}
    assert {"suite_a/coins", "suite_b/gravel", "suite_b/chelsea", "suite_a", "suite_b", "mean"} == set(model.results)
    assert trainer.logged_metrics["test/suite_b/chelsea/image_auroc"] == pytest.approx(
        model.results["suite_b/chelsea"]["image_auroc"]
    )
    assert (tmp_path / "references_suite_a_k2_seed0.json").is_file() and (
        tmp_path / "references_suite_b_k2_seed0.json"
    ).is_file()
    write_results(model.results_by_dataset, tmp_path, {"title": "t"})
    assert "mean over datasets" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "results.csv").read_text().splitlines()[0].startswith("dataset,category,image_auroc")


def test_scores_do_not_depend_on_batch_composition(quickstart_root: Path, tmp_path: Path) -> None:
    """References are per category: a mixed-category batch scores each image as if alone."""
    datamodule = FewShotDataModule(
        QuickstartData(str(quickstart_root), ["brick"]),
        QuickstartData(str(quickstart_root), ["coins", "gravel"]),
        shots=2,
        batch_size=64,
    )
    model = PatchResidual(ClipConfig("gad-tiny-vit", None, [1, 2]))
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, default_root_dir=str(tmp_path))
    predictions = trainer.predict(model, datamodule=datamodule)
    together = torch.cat([p["score"] for p in predictions])
    (loader,) = datamodule.predict_dataloader()
    batch = next(iter(loader))
    alone = torch.stack(
        [
            model.predict_batch(
                type(batch)(
                    batch.image[i : i + 1],
                    batch.label[i : i + 1],
                    None,
                    [batch.category[i]],
                    [batch.defect[i]],
                    [batch.path[i]],
                )
            ).score[0]
            for i in range(0, len(batch), 7)
        ]
    )
    torch.testing.assert_close(alone, together[: len(batch)][::7])

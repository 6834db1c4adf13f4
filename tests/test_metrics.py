"""Metrics against scikit-learn, against a straightforward PRO curve written here, and on masks with known answers."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from skimage import measure
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from gad.errors import ConfigError
from gad.metrics.anomaly_metrics import AnomalyMetrics, MetricSettings
from tests.conftest import REPO


def _pro_points(maps: np.ndarray, masks: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FPR and PRO (mean over all regions of the covered fraction) with 'anomalous' meaning score > threshold."""
    regions = [r.coords for m in masks for r in measure.regionprops(measure.label(m))]
    owners = [i for i, m in enumerate(masks) for _ in measure.regionprops(measure.label(m))]
    fprs, pros = [], []
    for t in thresholds:
        above = maps > t
        pros.append(np.mean([above[i][c[:, 0], c[:, 1]].mean() for i, c in zip(owners, regions)]))
        fprs.append(np.logical_and(above, masks == 0).sum() / (masks == 0).sum())
    return np.array(fprs), np.array(pros)


def reference_aupro_exact(maps: np.ndarray, masks: np.ndarray, limit: float = 0.3) -> float:
    """Every distinct score as a threshold (plus one below all), the curve cut at ``limit`` by interpolation."""
    thresholds = np.concatenate([np.unique(maps)[::-1], [maps.min() - 1]])
    fpr, pro = _pro_points(maps, masks, thresholds)
    fpr, pro = np.concatenate([[0.0], fpr]), np.concatenate([[0.0], pro])
    cut = np.interp(limit, fpr, pro)
    inside = fpr < limit
    return auc(np.concatenate([fpr[inside], [limit]]), np.concatenate([pro[inside], [cut]])) / limit


def reference_aupro_cflow(maps: np.ndarray, masks: np.ndarray, limit: float = 0.3) -> float:
    """The cflow-ad recipe: 200 thresholds from np.arange, FPR < limit, min-max rescaled FPR, sklearn's auc."""
    low, high = maps.min(), maps.max()
    fpr, pro = _pro_points(maps, masks, np.arange(low, high, (high - low) / 200))
    kept = fpr < limit
    fpr = fpr[kept]
    return auc((fpr - fpr.min()) / (fpr.max() - fpr.min()), pro[kept])


def _random_set(
    seed: int, count: int = 6, side: int = 24
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = np.random.default_rng(seed)
    masks = np.zeros((count, side, side), dtype=np.uint8)
    for mask in masks[: count // 2]:
        for _ in range(2):
            y, x, h, w = generator.integers(0, side - 6, 2).tolist() + generator.integers(2, 6, 2).tolist()
            mask[y : y + h, x : x + w] = 1
    maps = generator.normal(size=masks.shape).astype(np.float32) + 1.5 * masks
    maps = np.round(maps, 1)  # ties, as in flat regions of real maps
    labels = masks.reshape(count, -1).max(1)
    scores = np.round(maps.reshape(count, -1).max(1) + generator.normal(size=count), 1).astype(np.float32)
    return torch.from_numpy(scores), torch.from_numpy(labels), torch.from_numpy(maps), torch.from_numpy(masks)


def _compute(settings: MetricSettings, scores, labels, maps, masks) -> dict[str, float]:
    metric = AnomalyMetrics(["a"], settings)
    metric.update(torch.zeros(len(scores), dtype=torch.long), scores, labels, maps[:, None], masks[:, None].float())
    return metric.compute()["a"]


@pytest.mark.parametrize("bins, tolerance", [(None, 1e-9), (2048, 1e-9), (64, 0.05)])  # 3456 pixels
def test_auroc_ap_f1_match_sklearn(bins: int | None, tolerance: float) -> None:
    scores, labels, maps, masks = _random_set(0)
    row = _compute(MetricSettings(bins=bins, aupro=[]), scores, labels, maps, masks)
    pixels, truth = maps.reshape(-1).numpy(), masks.reshape(-1).numpy()
    precision, recall, _ = precision_recall_curve(truth, pixels)
    f1 = np.max(2 * precision * recall / np.maximum(precision + recall, 1e-300))
    assert row["pixel_auroc"] == pytest.approx(roc_auc_score(truth, pixels), abs=tolerance)
    assert row["pixel_ap"] == pytest.approx(average_precision_score(truth, pixels), abs=tolerance)
    assert row["pixel_f1_max"] == pytest.approx(f1, abs=tolerance)
    assert row["image_auroc"] == pytest.approx(roc_auc_score(labels.numpy(), scores.numpy()), abs=1e-12)
    assert row["image_ap"] == pytest.approx(average_precision_score(labels.numpy(), scores.numpy()), abs=1e-12)
    assert "pixel_aupro" not in row


@pytest.mark.parametrize("seed", [1, 2])
def test_aupro_matches_straightforward_pro_curves(seed: int) -> None:
    scores, labels, maps, masks = _random_set(seed)
    row = _compute(MetricSettings(bins=None), scores, labels, maps, masks)
    assert row["pixel_aupro"] == pytest.approx(reference_aupro_exact(maps.numpy(), masks.numpy()), abs=1e-9)
    assert row["pixel_aupro_cflow200"] == pytest.approx(reference_aupro_cflow(maps.numpy(), masks.numpy()), abs=1e-9)
    binned = _compute(MetricSettings(bins=2048), scores, labels, maps, masks)  # one distinct score per bin
    assert binned["pixel_aupro"] == pytest.approx(row["pixel_aupro"], abs=1e-9)
    coarse = _compute(MetricSettings(bins=7), scores, labels, maps, masks)  # thresholds resolved inside bins
    assert binned["pixel_aupro_cflow200"] == coarse["pixel_aupro_cflow200"] == row["pixel_aupro_cflow200"]
    assert coarse["pixel_aupro"] != row["pixel_aupro"]


def _one_image(regions: list[tuple[slice, slice, float]], side: int = 10) -> tuple[torch.Tensor, ...]:
    masks = torch.zeros(1, side, side)
    maps = torch.linspace(0, 0.5, side * side).reshape(1, side, side)  # background below every region score
    for rows, cols, value in regions:
        masks[0, rows, cols] = 1
        maps[0, rows, cols] = value
    return torch.tensor([1.0]), torch.tensor([1]), maps, masks


def test_hand_made_masks_with_known_aupro() -> None:
    perfect = _compute(MetricSettings(bins=None), *_one_image([(slice(0, 2), slice(0, 2), 1.0)]))
    assert perfect["pixel_auroc"] == 1.0 and perfect["pixel_aupro"] == pytest.approx(1.0)
    # two regions (8-connected components): one above all background, one below it; PRO is 1/2 throughout
    half = _one_image([(slice(0, 2), slice(0, 2), 1.0), (slice(6, 9), slice(6, 9), -1.0)])
    row = _compute(MetricSettings(bins=None), *half)
    assert row["pixel_aupro"] == pytest.approx(0.5)
    # touching diagonally: one 8-connected region of 8 pixels, 4 of them found -> PRO 1/2 as well
    diagonal = _one_image([(slice(0, 2), slice(0, 2), 1.0), (slice(2, 4), slice(2, 4), -1.0)])
    assert _compute(MetricSettings(bins=None), *diagonal)["pixel_aupro"] == pytest.approx(0.5)


def test_duplicates_count_once_and_order_does_not_matter() -> None:
    scores, labels, maps, masks = _random_set(3)
    category = torch.zeros(len(scores), dtype=torch.long)
    once = AnomalyMetrics(["a"])
    once.update(category, scores, labels, maps[:, None], masks[:, None], index=torch.arange(len(scores)))
    padded = AnomalyMetrics(["a"])  # two "processes": the second gets the first two samples again, reversed
    order = torch.tensor([5, 4, 3, 0, 1, 2, 1, 0])
    for part in (order[:4], order[4:]):
        padded.update(category[part], scores[part], labels[part], maps[part, None], masks[part, None], index=part)
    assert padded.compute() == once.compute()


def test_resolution_and_skipped_pixel_metrics() -> None:
    scores, labels, maps, masks = _random_set(4, side=8)
    small = _compute(MetricSettings(bins=None), scores, labels, maps, masks)
    metric = AnomalyMetrics(["a"], MetricSettings(resolution=16, bins=None))
    metric.update(torch.zeros(6, dtype=torch.long), scores, labels, maps[:, None], masks[:, None])
    assert metric.mask[0].shape == (6, 16, 16) and metric.mask[0].dtype == torch.uint8
    assert metric.compute()["a"]["pixel_auroc"] != small["pixel_auroc"]  # bilinear maps at 16 px differ
    no_masks = AnomalyMetrics(["a", "b"])
    no_masks.update(torch.tensor([0, 0, 1]), torch.tensor([0.1, 0.9, 0.5]), torch.tensor([0, 1, 1]))
    results = no_masks.compute()
    assert set(results["a"]) == {"image_auroc", "image_ap", "image_f1_max"}
    assert math.isnan(results["b"]["image_auroc"]) and results["mean"]["image_auroc"] == 1.0


def test_bad_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="aupro"):
        MetricSettings(aupro=["cflow"])
    with pytest.raises(ConfigError, match="bins"):
        MetricSettings(bins=1)


@pytest.mark.slow
def test_metric_benchmark_runs_tiny() -> None:
    """The speed/memory benchmark script, at 1 % of MVTec AD, prints its figures and the sklearn comparison."""
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "pixel_metrics.py"), "--scale", "0.01", "--side", "64", "--exact"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "all image and pixel metrics" in done.stdout and "scikit-learn: pixel AUROC and AP" in done.stdout
    exact_difference = float(
        done.stdout.split("exact (sorted) - sklearn| over categories and both metrics: ")[1].split()[0]
    )
    assert exact_difference < 1e-9


def test_small_categories_are_exact_and_large_ones_binned() -> None:
    scores, labels, maps, masks = _random_set(5)
    maps = maps + torch.rand(maps.shape, generator=torch.Generator().manual_seed(0)) * 1e-3  # no ties
    exact = _compute(MetricSettings(bins=None), scores, labels, maps, masks)
    assert _compute(MetricSettings(bins=maps.numel()), scores, labels, maps, masks) == exact
    binned = _compute(MetricSettings(bins=maps.numel() - 1), scores, labels, maps, masks)
    assert binned != exact and binned["pixel_auroc"] == pytest.approx(exact["pixel_auroc"], abs=1e-3)

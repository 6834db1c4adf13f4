"""Time and memory of all pixel metrics on an MVTec-AD-sized test set, beside plain scikit-learn.

    python benchmarks/pixel_metrics.py                  # 1,725 images at 336 x 336 (195 M pixels), 15 categories
    python benchmarks/pixel_metrics.py --scale 0.01     # a tiny run (the test suite does this)
    python benchmarks/pixel_metrics.py --exact          # also time the exact (sort-based) mode

Synthetic maps (smooth noise, higher on 1 to 3 rectangular defects per anomalous image) are fed batch by batch to
``AnomalyMetrics`` as in ``gad test``; then ``compute`` gives image AUROC/AP/F1-max and pixel AUROC, AP, F1-max
and both AUPROs per category. The target: under 30 s and 4 GB of memory on 2 CPU cores. scikit-learn's
``roc_auc_score`` and ``average_precision_score`` on the same pixels give the reference time and values.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch
import torch.nn.functional as F

from gad.metrics.anomaly_metrics import MEAN, AnomalyMetrics, MetricSettings

MVTEC_IMAGES = 1725
CATEGORIES = 15
ANOMALOUS = 0.7  # share of anomalous test images in MVTec AD


def synthetic_batch(
    count: int, side: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(labels, maps (B, 1, side, side), masks): smooth noise maps with rectangular defects scoring higher."""
    labels = (torch.rand(count, generator=generator) < ANOMALOUS).long()
    masks = torch.zeros(count, 1, side, side)
    for i in labels.nonzero().squeeze(1).tolist():
        for _ in range(int(torch.randint(1, 4, (1,), generator=generator))):
            h, w = (int(v) for v in torch.randint(side // 40, side // 6, (2,), generator=generator))
            y, x = (int(v) for v in torch.randint(0, side - max(h, w), (2,), generator=generator))
            masks[i, 0, y : y + h, x : x + w] = 1
    noise = F.interpolate(
        torch.rand(count, 1, side // 16, side // 16, generator=generator), size=(side, side), mode="bilinear"
    )
    return labels, noise + masks * torch.rand(count, 1, 1, 1, generator=generator) * (0.5 + noise), masks


def peak_memory_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 1,725 MVTec AD test images")
    parser.add_argument("--side", type=int, default=336, help="metric resolution")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--exact", action="store_true", help="also time bins=None (a sort of every pixel)")
    parser.add_argument("--no-sklearn", dest="sklearn", action="store_false", help="skip the scikit-learn timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    images = max(CATEGORIES * 2, round(MVTEC_IMAGES * args.scale))
    names = [f"c{i}" for i in range(CATEGORIES)]
    settings = {"binned (2**20 bins)": MetricSettings()} | (
        {"exact (sorted)": MetricSettings(bins=None)} if args.exact else {}
    )
    metrics = {label: AnomalyMetrics(names, s) for label, s in settings.items()}
    for start in range(0, images, 32):
        count = min(32, images - start)
        labels, maps, masks = synthetic_batch(count, args.side, generator)
        category = torch.arange(start, start + count) * CATEGORIES // images
        scores = maps.amax(dim=(1, 2, 3))
        for metric in metrics.values():
            metric.update(category, scores, labels, maps, masks)
    pixels = images * args.side**2
    print(
        f"{images} images at {args.side} x {args.side} ({pixels / 1e6:.0f} M pixels), {CATEGORIES} categories, "
        f"{torch.get_num_threads()} threads; memory after collecting: {peak_memory_gb():.2f} GB"
    )
    results = {}
    for label, metric in metrics.items():
        start, cpu = time.perf_counter(), time.process_time()
        results[label] = metric.compute()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"gad {label}: all image and pixel metrics (AUROC, AP, F1-max, AUPRO exact + cflow200) in "
            f"{seconds:.1f} s ({cpu:.1f} s of CPU); peak memory so far {peak_memory_gb():.2f} GB"
        )
    mean = next(iter(results.values()))[MEAN]
    print("  mean: " + ", ".join(f"{k} {v:.4f}" for k, v in mean.items()))
    if args.sklearn:
        sklearn_reference(metrics[next(iter(metrics))], names, results)


def sklearn_reference(metric: AnomalyMetrics, names: list[str], results: dict) -> None:
    """Pixel AUROC and AP of every category with scikit-learn, timed, and the largest difference to gad."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    category, maps, masks = torch.cat(metric.category), torch.cat(metric.anomaly_map), torch.cat(metric.mask)
    elapsed, worst = 0.0, {label: 0.0 for label in results}
    for number, name in enumerate(names):
        rows = category == number
        pixels, truth = maps[rows].reshape(-1).numpy(), masks[rows].reshape(-1).numpy()
        start = time.perf_counter()
        auroc, ap = roc_auc_score(truth, pixels), average_precision_score(truth, pixels)
        elapsed += time.perf_counter() - start
        for label, table in results.items():
            worst[label] = max(worst[label], abs(table[name]["pixel_auroc"] - auroc), abs(table[name]["pixel_ap"] - ap))
    print(f"scikit-learn: pixel AUROC and AP only, in {elapsed:.1f} s; peak memory so far {peak_memory_gb():.2f} GB")
    for label, difference in worst.items():
        print(f"  largest |gad {label} - sklearn| over categories and both metrics: {difference:.2e}")


if __name__ == "__main__":
    main()

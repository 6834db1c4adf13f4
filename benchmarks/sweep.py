"""A shots x seeds sweep of a trained run's test set: one pass (each batch read and encoded once, then scored
against every (K, seed) reference set by ``gad.models.multi_set.MultiSetScorer``) against S x R separate passes
(one per set, as S x R ``gad test`` runs do) and one single pass, side by side, in CPU time; and the largest
difference between the two ways' scores, maps and metrics.

    python benchmarks/sweep.py --checkpoint runs/QUICKSTART/checkpoints/last.ckpt --shots 1 2 4 8 --seeds 0 1 2

The data are the quickstart targets (``--root``, ``--categories``), read as ``gad test`` reads them (its
datamodule, preprocessing and metrics). Lightning, the CLI and result files are left out of all three
figures (``benchmarks/profile_test.py`` measures those in a real ``gad test``).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable

import torch

from gad.data.batch import Batch
from gad.data.datamodule import FewShotDataModule
from gad.data.prompt_files import ModelInput
from gad.data.reference_provider import EvaluationReferences
from gad.data.sources import QuickstartData
from gad.inference.checkpoint import load_module
from gad.metrics.anomaly_metrics import AnomalyMetrics
from gad.models.base import FewShotAnomalyModule
from gad.models.components.few_shot import AnomalyPrediction
from gad.models.multi_set import MultiSetScorer


def datamodule(args: argparse.Namespace, module: FewShotAnomalyModule, shots: int, seed: int) -> FewShotDataModule:
    target = QuickstartData(root=args.root, categories=args.categories)
    data = FewShotDataModule(target=target, shots=shots, seed=seed, eval_batch_size=args.batch_size)
    data.preprocessing = module.preprocessing
    return data


def reference_set(data: FewShotDataModule, module: FewShotAnomalyModule) -> EvaluationReferences:
    (chosen,) = data.reference_sets("test", 0, ModelInput.of(module.backbone))
    return chosen


def evaluate(
    module: FewShotAnomalyModule, data: FewShotDataModule, sets: list[EvaluationReferences]
) -> tuple[list[dict], list[list[AnomalyPrediction]]]:
    """One pass over the test loader scoring every set; per set, its metrics and its batches' predictions."""
    settings = [{**module.evaluation_settings(s.dataset, "test"), **s.settings} for s in sets]
    scorer = MultiSetScorer(module.model, [s.images.__getitem__ for s in sets], settings)
    metrics = [AnomalyMetrics(s.categories, module.metric_settings) for s in sets]
    outputs: list[list[AnomalyPrediction]] = [[] for _ in sets]
    (loader,) = data.test_dataloader()
    with torch.inference_mode():
        for batch in loader:
            assert isinstance(batch, Batch)
            for metric, kept, out in zip(metrics, outputs, scorer(batch.image, batch.category)):
                metric.update(
                    metric.category_index(batch.category), out.score, batch.label, out.anomaly_map, batch.mask
                )
                kept.append(out)
    return [m.compute() for m in metrics], outputs


def cpu(function: Callable[[], object]) -> tuple[float, object]:
    start = time.process_time()
    result = function()
    return time.process_time() - start, result


def largest_difference(first: list[dict], second: list[dict]) -> float:
    return max(
        abs(a[c][m] - b[c][m])
        for a, b in zip(first, second)
        for c in a
        for m in a[c]
        if not (math.isnan(a[c][m]) and math.isnan(b[c][m]))
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--root", default="data/quickstart")
    parser.add_argument("--categories", nargs="+", default=["gravel", "chelsea", "coins"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    module = load_module(args.checkpoint).eval()
    grid = [(k, s) for k in args.shots for s in args.seeds]
    first = datamodule(args, module, *grid[0])
    first.prepare_data()

    single, _ = cpu(lambda: evaluate(module, first, [reference_set(first, module)]))

    def separate() -> tuple[list[dict], list[list[AnomalyPrediction]]]:
        results, outputs = [], []
        for k, s in grid:
            data = datamodule(args, module, k, s)
            got = evaluate(module, data, [reference_set(data, module)])
            results += got[0]
            outputs += got[1]
        return results, outputs

    def one_pass() -> tuple[list[dict], list[list[AnomalyPrediction]]]:
        sets = [reference_set(datamodule(args, module, k, s), module) for k, s in grid]
        return evaluate(module, first, sets)

    apart, (apart_results, apart_outputs) = cpu(separate)
    swept, (swept_results, swept_outputs) = cpu(one_pass)
    score_difference = max(
        float((a.score - b.score).abs().max())
        for set_a, set_b in zip(apart_outputs, swept_outputs)
        for a, b in zip(set_a, set_b)
    )
    map_difference = max(
        float((a.anomaly_map - b.anomaly_map).abs().max())
        for set_a, set_b in zip(apart_outputs, swept_outputs)
        for a, b in zip(set_a, set_b)
        if a.anomaly_map is not None and b.anomaly_map is not None
    )
    print(
        f"{type(module).__name__}, {args.checkpoint}, {len(grid)} sets (K = {args.shots} x seeds {args.seeds}), "
        f"{len(first.eval_samples('test'))} test images, {torch.get_num_threads()} thread(s), "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print("| what | CPU s | x one test |\n|---|---:|---:|")
    print(f"| one test (K = {grid[0][0]}, seed {grid[0][1]}) | {single:.2f} | 1.00 |")
    print(f"| {len(grid)} separate passes (S x R tests) | {apart:.2f} | {apart / single:.2f} |")
    print(f"| one pass over {len(grid)} sets | {swept:.2f} | {swept / single:.2f} |")
    print(
        f"one pass vs separate: scores {score_difference:.2e}, maps {map_difference:.2e}, metrics "
        f"{largest_difference(apart_results, swept_results):.2e} (largest absolute differences)"
    )


if __name__ == "__main__":
    main()

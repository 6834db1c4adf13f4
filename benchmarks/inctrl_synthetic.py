"""InCTRL trained with synthetic anomalies against real labelled ones, on the quickstart, over several seeds.

    python benchmarks/inctrl_synthetic.py                       # seeds 0 1 2, the quickstart's 3 x 10 steps
    python benchmarks/inctrl_synthetic.py --seeds 0 1 2 3 4 --epochs 5

Both arms are ``configs/inctrl_quickstart.yaml`` (tiny random CLIP) through ``gad fit`` and ``gad test``; only
where the anomalous half of each balanced batch comes from differs. The test images of the auxiliary categories
(brick, grass, coffee) are split per category and label into two halves (seeded, fixed): half A is training data,
half B evaluation data, so that the real-anomaly arm is never tested on a defect it trained on.

- ``real``: normal training images + A's normal images, and A's real anomalies (the paper's setting);
- ``synthetic``: the same normal images, anomalies from the DRAEM/Perlin synthesis (``synthetic_anomalies``).

Reported per seed: image AUROC on B (the auxiliary categories' real defects, K references from their training
images) and on the unseen target categories (gravel, chelsea, coins, their whole test split); then mean and
standard deviation over seeds. Validation is off (half A has no normal images left to validate on), the last
epoch is tested. Everything is written under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import yaml

from gad.cli import main as gad
from gad.data.quickstart import AUXILIARY_CATEGORIES, TARGET_CATEGORIES
from gad.data.sources import QuickstartData, write_meta_json
from gad.data.sources.splits import split_normals

REPO = Path(__file__).resolve().parents[1]
ARMS = ("real", "synthetic")


def split_meta(root: Path, out: Path, seed: int) -> tuple[Path, Path]:
    """``train.json`` (normal images + half A's normals as train, A's anomalies as test) and ``eval.json``
    (training normals as the reference pool, half B as test), both relative to the quickstart ``root``."""
    source = QuickstartData(str(root), list(AUXILIARY_CATEGORIES))
    samples = source.samples()
    halves: dict[str, list[str]] = {"train": [], "eval": []}
    for _, group in samples[samples["split"] == "test"].groupby(["category", "label"]):
        half_a, half_b = split_normals(sorted(group["path"]), 0.5, seed)
        halves["train"] += half_a
        halves["eval"] += half_b
    paths = []
    for name, picked in halves.items():
        table = samples[(samples["split"] == "train") | samples["path"].isin(picked)].copy()
        if name == "train":  # A's normal images join the training pool, A's anomalies are the labelled ones
            table.loc[(table["split"] == "test") & (table["label"] == 0), "split"] = "train"
        paths.append(write_meta_json(source, out / f"{name}.json", table))
    return paths[0], paths[1]


def run_arm(arm: str, seed: int, args: argparse.Namespace, train_meta: Path, eval_meta: Path) -> dict[str, float]:
    """Fit one arm with one seed, test it; image AUROC per evaluation set."""
    out = args.out / f"{arm}_seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    meta = {"class_path": "gad.data.sources.MetaJson", "init_args": {"root": str(args.root)}}
    fit = {
        "seed_everything": seed,
        "data": {
            "init_args": {
                "auxiliary": {**meta, "init_args": {**meta["init_args"], "meta": str(train_meta), "name": "auxiliary"}},
                "train_pipeline": {
                    "class_path": "gad.models.inctrl.InCTRLTrainingPipeline",
                    "init_args": {
                        "seed": seed,
                        "steps_per_epoch": args.steps,
                        "synthetic_anomalies": arm == "synthetic",
                    },
                },
            }
        },
        "trainer": {"max_epochs": args.epochs, "limit_val_batches": 0, "logger": False, "enable_progress_bar": False},
    }
    test = {
        "data": {
            "init_args": {
                "target": [
                    {
                        **meta,
                        "init_args": {
                            **meta["init_args"],
                            "meta": str(eval_meta),
                            "name": "auxiliary_real_defects",
                            "categories": list(AUXILIARY_CATEGORIES),
                        },
                    },
                    {
                        "class_path": "gad.data.sources.QuickstartData",
                        "init_args": {
                            "root": str(args.root),
                            "categories": list(TARGET_CATEGORIES),
                            "name": "unseen_targets",
                        },
                    },
                ]
            }
        },
        "trainer": {"logger": False, "enable_progress_bar": False},
    }
    (out / "fit.yaml").write_text(yaml.safe_dump(fit))
    (out / "test.yaml").write_text(yaml.safe_dump(test))
    before = set(args.runs.glob("*"))
    gad(["fit", "--config", str(REPO / "configs" / "inctrl_quickstart.yaml"), "--config", str(out / "fit.yaml")])
    (run,) = set(args.runs.glob("*")) - before
    gad(["test", "--run", str(run), "--config", str(out / "test.yaml"), "--shots", str(args.shots)])
    (results,) = run.glob("test/*/results.json")
    table = json.loads(results.read_text())["results"]
    return {name: table[name]["mean"]["image_auroc"] for name in ("auxiliary_real_defects", "unseen_targets")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("data/quickstart"), help="quickstart data (made if absent)")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark_inctrl_synthetic"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3, help="as configs/inctrl_quickstart.yaml")
    parser.add_argument("--steps", type=int, default=10, help="batches per epoch, as configs/inctrl_quickstart.yaml")
    parser.add_argument("--shots", type=int, default=4, help="K normal references at test time")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the A/B split of the auxiliary test images")
    args = parser.parse_args(argv)
    args.root, args.out = args.root.absolute(), args.out.absolute()
    args.runs = args.out / "runs"
    args.runs.mkdir(parents=True, exist_ok=True)
    QuickstartData(str(args.root)).prepare()
    train_meta, eval_meta = split_meta(args.root, args.out, args.split_seed)
    os.environ["GAD_RUNS_DIR"] = str(args.runs)
    figures = {arm: {seed: run_arm(arm, seed, args, train_meta, eval_meta) for seed in args.seeds} for arm in ARMS}
    lines = [
        f"InCTRL on the quickstart, {args.epochs} x {args.steps} steps, K={args.shots}, seeds {args.seeds}: image AUROC",
        "| anomalies | set | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean ± std |",
        "|---|---|" + "---|" * len(args.seeds) + "---|",
    ]
    for arm in ARMS:
        for name in ("auxiliary_real_defects", "unseen_targets"):
            values = [figures[arm][s][name] for s in args.seeds]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            lines.append(
                f"| {arm} | {name} | "
                + " | ".join(f"{v:.3f}" for v in values)
                + f" | {statistics.mean(values):.3f} ± {spread:.3f} |"
            )
    print("\n".join(lines), file=sys.stdout)
    (args.out / "figures.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

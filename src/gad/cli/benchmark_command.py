"""``gad benchmark``: a trained run tested over shots x seeds (reference draws) x target sets, in one table.

    gad benchmark --shots 1 2 4 8 --seeds 0 1 2                        the most recent run, its own targets
    gad benchmark --run runs/FOLDER --shots 4 --seeds 0 1 2 3 4 \\
        --targets configs/targets/visa.yaml configs/targets/mpdd.yaml   other target sets (test configs)
    gad benchmark --shots 1 2 -- --trainer.logger false                 arguments after -- go to every gad test

Each (target, shots, seed) is one ``gad test`` with its own folder, results and manifests under the run. The
combined tables (mean ± sample std over seeds, in percent) go to ``<run>/benchmark/<time>/``: ``benchmark.md``
(per metric: rows = datasets, columns = shots; then per category), ``benchmark.csv`` (every value of every test)
``benchmark.json`` and ``benchmark.png`` (each metric against K, mean over categories per dataset, error bars:
std over seeds). Each test prints one line (its own table is in its folder); one compact table comes at the end.
The sweep is the only mode so far; other modes (e.g. speed) would be further subcommands.
"""

from __future__ import annotations

import contextlib
import io
import os
from datetime import datetime
from pathlib import Path

import pandas as pd
from jsonargparse import ArgumentParser
from rich.console import Console
from rich.markdown import Markdown

from gad.cli.config_checks import check_config_files
from gad.cli.errors import one_line_errors
from gad.cli.lightning_cli import run_lightning
from gad.output_paths import check_writable, write_atomic
from gad.runs import latest_run, runs_root
from gad.errors import ConfigError
from gad.metrics.anomaly_metrics import MEAN
from gad.reporting import strict_json, sweep_markdown

HEADLINE = ("image_auroc", "image_ap", "pixel_auroc", "pixel_ap")


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="gad benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=str | None, default=None, help="the run to test (default: the most recent)")
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 2, 4, 8], help="numbers of normal references")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="reference draws (data.seed)")
    parser.add_argument(
        "--targets",
        type=str,
        nargs="+",
        default=[],
        help="test configs (YAML setting data.init_args.target, given a distinct name) to run in turn, each after "
        "the run's config and the arguments after --; default the run's targets",
    )
    return parser


def benchmark_main(argv: list[str]) -> None:
    own, test_args = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    config = _parser().parse_args(own)
    with one_line_errors("gad benchmark"):
        folder = run_sweep(config.run, config.shots, config.seeds, config.targets, test_args)
    print(f"gad benchmark: tables written to {folder}")


def run_sweep(run: str | None, shots: list[int], seeds: list[int], targets: list[str], test_args: list[str]) -> Path:
    """Every (target, shots, seed) test; the long table of their results; the combined tables. Returns the folder."""
    if not shots or not seeds:
        raise ConfigError("gad benchmark needs at least one value in --shots and in --seeds")
    check_config_files(targets)
    if min(shots) < 0:  # each test checks K against its method's minimum (0 for zero-shot methods)
        raise ConfigError(f"--shots: every number of references must be at least 0, got {shots}")
    given_model = any(a.split("=")[0] in ("-c", "--config", "--ckpt_path") for a in test_args)
    if run is None and not given_model:
        run = str(latest_run()[0])  # once: a fit finishing during the sweep must not change the run under test
    # the tables go under the run (else the runs folder): refused now rather than after every test has run
    check_writable(Path(run) / "benchmark" if run else runs_root(), "--run" if run else "runs folder", "folder")
    records: list[dict] = []
    tests: list[dict] = []
    run_folder: Path | None = Path(run) if run else None
    target_list: list[str | None] = [*targets] or [None]
    for target in target_list:
        for k in shots:
            for seed in seeds:
                # the run's (or given) config, then the target's, then shots and seed: later arguments win
                args = ["test", *(["--run", run] if run else []), *test_args, *(["--config", target] if target else [])]
                args += ["--shots", str(k), "--data.init_args.seed", str(seed)]
                with contextlib.redirect_stdout(io.StringIO()):  # its table is in its folder: one line here
                    cli = run_lightning(args)
                out = Path(cli.trainer.default_root_dir)
                print(_test_line(len(tests) + 1, len(target_list) * len(shots) * len(seeds), k, seed, cli, out))
                if run_folder is None and out.parent.name == "test":
                    run_folder = out.parent.parent
                tests.append({"target": target, "shots": k, "seed": seed, "folder": str(out)})
                for dataset, table in cli.model.results_by_dataset.items():
                    for category, row in table.items():
                        records += [
                            {
                                "dataset": dataset,
                                "category": category,
                                "shots": k,
                                "seed": seed,
                                "metric": m,
                                "value": v,
                            }
                            for m, v in row.items()
                        ]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = run_folder / "benchmark" / stamp if run_folder else runs_root() / f"{stamp}_benchmark"
    return write_sweep(pd.DataFrame(records), folder, {"shots": shots, "seeds": seeds, "tests": tests})


def write_sweep(records: pd.DataFrame, folder: Path, context: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "benchmark.csv", records.to_csv(index=False))
    write_atomic(folder / "benchmark.md", sweep_markdown(records))
    write_atomic(folder / "benchmark.json", strict_json({**context, "results": records.to_dict("records")}))
    plot_sweep(records, folder / "benchmark.png")
    Console(width=None if Console().is_terminal else 160).print(Markdown(sweep_markdown(records, per_category=False)))
    return folder


def _test_line(number: int, total: int, shots: int, seed: int, cli: object, folder: Path) -> str:
    """``[i/N] k=K seed=S  dataset: image_auroc .. pixel_ap ..  -> folder``: a test's mean metrics in one line."""
    results = getattr(getattr(cli, "model", None), "results_by_dataset", {})
    figures = "; ".join(
        f"{dataset}: " + " ".join(f"{m} {100 * table[MEAN][m]:.1f}" for m in HEADLINE if m in table.get(MEAN, {}))
        for dataset, table in results.items()
    )
    return f"gad benchmark: [{number}/{total}] k={shots} seed={seed}  {figures}  -> {folder}"


def plot_sweep(records: pd.DataFrame, path: Path) -> Path:
    """One panel per metric: the mean over categories of each dataset against K (log scale), mean over seeds with
    the sample std over seeds as error bars; written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    means = records[records["category"] == MEAN]
    metrics = list(dict.fromkeys(means["metric"]))
    columns = min(len(metrics), 4) or 1
    rows = -(-len(metrics) // columns) or 1
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.2 * rows), squeeze=False)
    for axis, metric in zip(axes.flat, metrics):
        for dataset, values in means[means["metric"] == metric].groupby("dataset", sort=False):
            stats = values.groupby("shots")["value"].agg(["mean", "std"]).fillna(0.0) * 100
            axis.errorbar(stats.index, stats["mean"], yerr=stats["std"], marker="o", capsize=3, label=dataset)
        axis.set(title=metric, xlabel="K (normal references)", ylabel="%", xscale="log")
        axis.set_xticks(sorted(means["shots"].unique()), [str(k) for k in sorted(means["shots"].unique())])
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(metrics) :]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize="small")
    figure.tight_layout()
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")  # as write_atomic, for bytes
    try:
        figure.savefig(partial, format="png", dpi=100)
        os.replace(partial, path)
    finally:
        plt.close(figure)
        partial.unlink(missing_ok=True)
    return path

"""Where the CPU time of a ``gad test`` goes, by stage: data, references, backbone, generators, lookup, maps,
metrics, writing, and everything else (Lightning, logging, CLI).

    python benchmarks/profile_test.py --run runs/DICTAS_QUICKSTART_RUN --shots 4
    python benchmarks/profile_test.py --run runs/PATCH_RESIDUAL_RUN --shots 4
    python benchmarks/profile_test.py --run runs/X --shots 1 2 4 8 --seeds 0 1 2     # a one-pass sweep
    python benchmarks/profile_test.py --run runs/X --shots 4 -- --trainer.logger false   # more gad test options

The test runs in this process under cProfile with the process CPU clock (``time.process_time``), so the figures
do not depend on the load of a shared machine; a stage is the inclusive time of the functions that make it
(the query side is ``encode_queries``, the reference side ``set_references``). Imports are timed apart, before the profile starts.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time

STAGES: list[tuple[str, str, str, str | None]] = [
    # (stage, file suffix, function, only when called by this function (None: any caller)). One torch thread by
    # default: on a shared machine idle OpenMP threads spin, and that counts as CPU time of the small operations
    ("data: read, resize, collate", "gad/data/dataset.py", "__getitem__", None),
    ("data: read, resize, collate", "gad/data/batch.py", "collate_batch", None),
    ("references: read", "gad/data/datamodule.py", "reference_images", None),
    ("references: encode (backbone + g_K, g_V)", "gad/models/components/few_shot.py", "set_references", None),
    ("references: encode (backbone + g_K, g_V)", "gad/models/multi_set.py", "references", None),
    ("queries: encode (backbone; InCTRL, PatchResidual: normalised tokens)", "torch_model.py", "encode_queries", None),
    ("queries: g_V, pooling, g_Q (DictAS)", "gad/models/dictas/torch_model.py", "lookup_inputs", None),
    ("per set: lookup (DictAS)", "gad/models/dictas/lookup.py", "lookup", None),
    ("per set: maps (upsample, smooth)", "gad/models/components/anomaly_map.py", "gaussian_smooth", None),
    ("per set: maps (upsample, smooth)", "gad/models/components/anomaly_map.py", "upsample", None),
    ("metrics: update", "gad/metrics/anomaly_metrics.py", "update", None),
    ("metrics: compute", "gad/metrics/anomaly_metrics.py", "compute", None),
    ("writing: results, manifests, report", "gad/callbacks/results_writer.py", "_report", None),
    ("writing: results, manifests, report", "gad/models/base.py", "_write_manifest", None),
]


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    own, rest = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="the run folder to test")
    parser.add_argument("--shots", type=int, nargs="+", default=[4])
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: see STAGES)")
    parser.add_argument("--top", type=int, default=0, help="also print the N functions of most own CPU time")
    return parser.parse_args(own), rest


def stage_times(stats: pstats.Stats) -> dict[str, float]:
    """Inclusive CPU seconds per stage (a stage's functions never call one another)."""
    times: dict[str, float] = {}
    table = stats.stats  # type: ignore[attr-defined]
    for (filename, _, name), (_, _, _, cumulative, callers) in table.items():
        for stage, suffix, function, caller in STAGES:
            if name != function or not filename.endswith(suffix):
                continue
            if caller is None:
                seconds = cumulative
            else:
                seconds = sum(c[3] for (_, _, who), c in callers.items() if who == caller)
            times[stage] = times.get(stage, 0.0) + seconds
    return times


def main(argv: list[str] | None = None) -> None:
    args, rest = parse(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("WANDB_MODE", "disabled")
    start = time.process_time()
    import torch

    from gad.cli.lightning_cli import run_lightning

    torch.set_num_threads(args.threads)
    imports = time.process_time() - start
    command = ["test", "--run", args.run, "--shots", *map(str, args.shots), "--trainer.logger", "false", *rest]
    if args.seeds:
        command += ["--seeds", *map(str, args.seeds)]
    profiler = cProfile.Profile(time.process_time)
    wall = time.perf_counter()
    profiler.runcall(run_lightning, command)
    wall = time.perf_counter() - wall
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    times = stage_times(stats)
    print(f"gad {' '.join(command)}")
    print(f"load average {os.getloadavg()[0]:.1f}; imports {imports:.2f} s CPU (not in the profile); wall {wall:.1f} s")
    print("| stage | CPU s | share |\n|---|---:|---:|")
    for stage, seconds in times.items():
        print(f"| {stage} | {seconds:.2f} | {seconds / total:.0%} |")
    rest_time = total - sum(times.values())
    print(f"| other (CLI, checkpoint, Lightning loop, logging) | {rest_time:.2f} | {rest_time / total:.0%} |")
    print(f"| **total (profiled)** | **{total:.2f}** | |")
    if args.top:
        stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()

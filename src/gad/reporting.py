"""Result tables: one row per category plus the dataset mean, as printed and as written to the run folder."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from gad.metrics.anomaly_metrics import MEAN, nanmean


def metric_names(results: dict[str, dict[str, float]]) -> list[str]:
    names: list[str] = []
    for row in results.values():
        names += [n for n in row if n not in names]
    return names


def _fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.1f}"


def markdown_table(results: dict[str, dict[str, float]], title: str = "") -> str:
    """Values in percent, as the papers report them; the mean row last."""
    names = metric_names(results)
    lines = [f"### {title}", ""] if title else []
    lines += ["| category | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    rows = [c for c in results if c != MEAN] + ([MEAN] if MEAN in results else [])
    for category in rows:
        label = f"**{category}**" if category == MEAN else category
        lines.append(f"| {label} | " + " | ".join(_fmt(results[category].get(n, math.nan)) for n in names) + " |")
    return "\n".join(lines) + "\n"


def write_results(by_dataset: dict[str, dict[str, dict[str, float]]], folder: str | Path, context: dict) -> list[Path]:
    """``results.json`` (with the run context), ``results.csv`` (a row per dataset and category) and ``results.md``
    (a table per dataset, plus the mean over datasets when there are several) in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = metric_names({f"{d}/{c}": row for d, table in by_dataset.items() for c, row in table.items()})
    json_path, csv_path, md_path = folder / "results.json", folder / "results.csv", folder / "results.md"
    json_path.write_text(json.dumps({**context, "results": by_dataset}, indent=2, allow_nan=True) + "\n")
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "category", *names])
        for dataset, table in by_dataset.items():
            for category, row in table.items():
                writer.writerow([dataset, category, *(row.get(n, math.nan) for n in names)])
    md_path.write_text(results_markdown(by_dataset, context.get("title", "")))
    return [json_path, csv_path, md_path]


def results_markdown(by_dataset: dict[str, dict[str, dict[str, float]]], title: str = "") -> str:
    tables = [markdown_table(table, f"{title} · {dataset}" if title else dataset) for dataset, table in by_dataset.items()]
    if len(by_dataset) > 1:
        means = {dataset: table[MEAN] for dataset, table in by_dataset.items() if MEAN in table}
        means[MEAN] = {n: nanmean([row.get(n, math.nan) for row in means.values()]) for n in metric_names(means)}
        tables.append(markdown_table(means, f"{title} · mean over datasets" if title else "mean over datasets"))
    return "\n".join(tables)

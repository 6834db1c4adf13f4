"""Result tables: one row per category plus the dataset mean, as printed and as written to the run folder."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from gad.metrics.anomaly_metrics import MEAN, nanmean
from gad.output_paths import write_atomic

# Column headings of the markdown tables, as the papers write them (json and csv keep the metric keys).
LABELS = {
    "image_auroc": "I-AUROC",
    "image_ap": "I-AP",
    "image_f1_max": "I-F1max",
    "pixel_auroc": "P-AUROC",
    "pixel_ap": "P-AP",
    "pixel_f1_max": "P-F1max",
    "pixel_aupro": "AUPRO",
    "pixel_aupro_cflow200": "AUPRO-cflow200",
}


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
    lines += ["| category | " + " | ".join(LABELS.get(n, n) for n in names) + " |", "|---" * (len(names) + 1) + "|"]
    rows = [c for c in results if c != MEAN] + ([MEAN] if MEAN in results else [])
    for category in rows:
        label = f"**{category}**" if category == MEAN else category
        lines.append(f"| {label} | " + " | ".join(_fmt(results[category].get(n, math.nan)) for n in names) + " |")
    return "\n".join(lines) + "\n"


def strict_json(content: Any) -> str:
    """Indented JSON that every reader accepts: undefined (NaN or infinite) values become ``null``."""
    return json.dumps(_finite_or_none(content), indent=2, allow_nan=False) + "\n"


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item) for item in value]
    return value


def write_results(
    by_dataset: dict[str, dict[str, dict[str, float]]],
    folder: str | Path,
    context: dict,
    undefined: dict[str, dict[str, dict[str, str]]] | None = None,
) -> list[Path]:
    """``results.json`` (strict JSON with the run context; undefined values are ``null`` and ``undefined`` says
    why, per dataset, category and metric), ``results.csv`` (a row per dataset and category) and ``results.md``
    (a table per dataset, plus the mean over datasets when there are several) in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = metric_names({f"{d}/{c}": row for d, table in by_dataset.items() for c, row in table.items()})
    json_path, csv_path, md_path = folder / "results.json", folder / "results.csv", folder / "results.md"
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["dataset", "category", *names])
    for dataset, table in by_dataset.items():
        for category, row in table.items():
            writer.writerow([dataset, category, *(row.get(n, math.nan) for n in names)])
    write_atomic(csv_path, rows.getvalue(), newline="")
    write_atomic(md_path, results_markdown(by_dataset, context.get("title", "")))
    # last: a results.json means the whole set was written (a killed command leaves none, or the previous one)
    write_atomic(json_path, strict_json({**context, "results": by_dataset, "undefined": undefined or {}}))
    return [json_path, csv_path, md_path]


def results_markdown(by_dataset: dict[str, dict[str, dict[str, float]]], title: str = "") -> str:
    tables = [
        markdown_table(table, f"{title} · {dataset}" if title else dataset) for dataset, table in by_dataset.items()
    ]
    if len(by_dataset) > 1:
        means = {dataset: table[MEAN] for dataset, table in by_dataset.items() if MEAN in table}
        means[MEAN] = {n: nanmean([row.get(n, math.nan) for row in means.values()]) for n in metric_names(means)}
        tables.append(markdown_table(means, f"{title} · mean over datasets" if title else "mean over datasets"))
    return "\n".join(tables)


def _mean_std(values: pd.Series) -> str:
    """Mean ± sample std in percent over the seeds (just the mean for one seed; "-" when undefined)."""
    finite = values.dropna() * 100
    if finite.empty:
        return "-"
    return f"{finite.mean():.1f}" if len(finite) < 2 else f"{finite.mean():.1f} ± {finite.std():.1f}"


def _grid(title: str, corner: str, cells: pd.DataFrame) -> str:
    lines = [f"### {title}", "", f"| {corner} | " + " | ".join(f"{c}-shot" for c in cells.columns) + " |"]
    lines.append("|---" * (len(cells.columns) + 1) + "|")
    lines += [f"| {index} | " + " | ".join(str(v) for v in row) + " |" for index, row in cells.iterrows()]
    return "\n".join(lines) + "\n"


def sweep_markdown(records: pd.DataFrame, per_category: bool = True) -> str:
    """The tables of a shots x seeds sweep, from a long table (dataset, category, shots, seed, metric, value).

    Per metric, as the papers lay them out: rows = datasets (their mean over categories, plus the mean over
    datasets when there are several), columns = shots, cells = mean ± std over seeds; then (``per_category``) the
    same per category.
    """
    tables = []
    for metric in dict.fromkeys(records["metric"]):
        rows = records[records["metric"] == metric]
        means = rows[rows["category"] == MEAN]
        if means["dataset"].nunique() > 1:
            over = means.groupby(["shots", "seed"], as_index=False)["value"].mean()
            means = pd.concat([means, over.assign(dataset="mean over datasets")])
        label = LABELS.get(metric, metric)
        summary = means.groupby(["dataset", "shots"], sort=False)["value"].apply(_mean_std).unstack("shots")
        tables.append(_grid(label, "dataset", summary))
        if not per_category:
            continue
        detail = rows.assign(row=rows["dataset"] + " / " + rows["category"])
        tables.append(
            _grid(
                f"{label} per category",
                "dataset / category",
                detail.groupby(["row", "shots"], sort=False)["value"].apply(_mean_std).unstack("shots"),
            )
        )
    return "\n".join(tables)

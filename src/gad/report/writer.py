"""The visual report of a test: a panel per image, curves per category, per-defect results, report.{html,json}.

Written under ``<test folder>/report/``: ``report.html`` (static, opens from the folder), ``report.json`` (the
same content for programs), ``panels/<dataset>/<category>/*.jpg`` (full size) with ``thumbs/...jpg`` beside
them, ``curves/<dataset>/<category>.png`` (ROC | PR | score histogram).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from gad.errors import GadError
from gad.inference.threshold import Thresholds, confusion_at_threshold
from gad.metrics.anomaly_metrics import MEAN
from gad.output_paths import plain_name, write_atomic
from gad.report.html import render_html
from gad.report.panels import panel_name, render_panel
from gad.report.plots import image_curves, plot_category
from gad.report.records import ImageRecord, as_arrays
from gad.reporting import strict_json

THUMB_WIDTH = 360
PANEL_QUALITY = 92  # JPEG: a third of a PNG's size and a tenth of its time (2,000 panels: ~100 MB, not ~400 MB)
FOLDER = "report"


@dataclass
class ReportFiles:
    """What ``write_report`` wrote: the page, its data, and every picture (for wandb)."""

    html: Path
    json: Path
    curves: dict[str, Path] = field(default_factory=dict)  # "dataset/category" -> PNG
    panels: list[tuple[ImageRecord, Path]] = field(default_factory=list)
    defect_rows: list[dict] = field(default_factory=list)


def write_report(
    records: dict[str, list[ImageRecord]],
    results: dict[str, dict[str, dict[str, float]]],
    thresholds: dict[str, dict[str, Thresholds]],
    folder: str | Path,
    title: str,
    context: dict,
) -> ReportFiles:
    """Render every record and write the report under ``folder/report``; ``results``: the per-category metrics of
    ``results.json``; ``thresholds``: per dataset and category (missing: no predicted masks)."""
    root = Path(folder) / FOLDER
    files = ReportFiles(root / "report.html", root / "report.json")
    content: dict = {"title": title, "context": context, "datasets": {}}
    dataset_folders: set[str] = set()
    for dataset, kept in records.items():
        categories: dict[str, dict] = {}
        chosen = thresholds.get(dataset, {})
        dataset_folder, category_folders = _folder_name(dataset, dataset_folders), set[str]()
        for category in dict.fromkeys(r.category for r in kept):
            rows = sorted((r for r in kept if r.category == category), key=lambda r: -r.score)
            decision = chosen.get(category, Thresholds(None))
            where = f"{dataset_folder}/{_folder_name(category, category_folders)}"
            categories[category] = _category(root, files, (dataset, category), where, rows, decision)
            categories[category]["metrics"] = results.get(dataset, {}).get(category, {})
        defects = [row for c in categories.values() for row in c.pop("defect_rows")]
        files.defect_rows += [{"dataset": dataset, **row} for row in defects]
        content["datasets"][dataset] = {
            "mean": results.get(dataset, {}).get(MEAN, {}),
            "categories": categories,
            "defects": defects,
        }
    root.mkdir(parents=True, exist_ok=True)
    write_atomic(files.json, strict_json(content))
    write_atomic(files.html, render_html(content))
    return files


def _category(
    root: Path,
    files: ReportFiles,
    names: tuple[str, str],
    where: str,
    rows: list[ImageRecord],
    decision: Thresholds,
) -> dict:
    """``names``: the dataset and category as the data name them; ``where``: their folders in the report (plain,
    distinct names: a category such as ``../x`` from a meta.json cannot lead a file out of the report)."""
    dataset, category = names
    scores, labels = as_arrays(rows)
    image_threshold = decision.image.value if decision.image else None
    pixel_threshold = decision.pixel.value if decision.pixel else None
    maps = [r.anomaly_map for r in rows if r.anomaly_map is not None]
    low = min((float(m.min()) for m in maps), default=0.0)
    high = max((float(m.max()) for m in maps), default=1.0)
    images: list[dict] = []
    used: set[str] = set()
    for rank, record in enumerate(rows):
        name = _unique(panel_name(record), used)
        panel = root / "panels" / where / f"{name}.jpg"
        thumb = root / "thumbs" / where / f"{name}.jpg"
        picture = render_panel(record, low, high, image_threshold, pixel_threshold)
        _write_image(panel, picture, [cv2.IMWRITE_JPEG_QUALITY, PANEL_QUALITY])
        scale = THUMB_WIDTH / picture.shape[1]
        small = cv2.resize(picture, (THUMB_WIDTH, round(picture.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        _write_image(thumb, small, [cv2.IMWRITE_JPEG_QUALITY, 85])
        files.panels.append((record, panel))
        images.append(
            {
                "rank": rank,
                "path": record.path,
                "defect": record.defect,
                "label": record.label,
                "score": record.score,
                "predicted": None if image_threshold is None else bool(record.score > image_threshold),
                "panel": panel.relative_to(root).as_posix(),
                "thumbnail": thumb.relative_to(root).as_posix(),
            }
        )
    curves = image_curves(scores, labels)
    plot = plot_category(
        root / "curves" / f"{where}.png",
        f"{dataset} / {category}",
        scores,
        labels,
        curves,
        image_threshold,
    )
    files.curves[f"{dataset}/{category}"] = plot
    return {
        "thresholds": decision.as_dict(),
        "at_threshold": None if image_threshold is None else confusion_at_threshold(scores, labels, image_threshold),
        "curves": None
        if curves is None
        else {
            "auroc": curves.auroc,
            "ap": curves.ap,
            "roc": {"fpr": curves.fpr.tolist(), "tpr": curves.tpr.tolist()},
            "pr": {"recall": curves.recall.tolist(), "precision": curves.precision.tolist()},
        },
        "plot": plot.relative_to(root).as_posix(),
        "images": images,
        "defect_rows": _defect_rows(category, rows, image_threshold),
    }


def _defect_rows(category: str, rows: list[ImageRecord], image_threshold: float | None) -> list[dict]:
    """One row per defect type (the test folder's name) of a category: its images against the category's normal
    images (image AUROC and AP), its mean score and the share flagged at the threshold."""
    scores, labels = as_arrays(rows)
    defects = np.array([r.defect for r in rows])
    normal = labels == 0
    table = []
    for defect in dict.fromkeys(defects[np.argsort(defects, kind="stable")]):
        selected = defects == defect
        row: dict = {"category": category, "defect": defect, "images": int(selected.sum())}
        row["label"] = "normal" if not labels[selected].any() else "anomalous"
        row["mean_score"] = float(scores[selected].mean())
        curves = None
        if row["label"] == "anomalous":
            both = selected | normal
            curves = image_curves(scores[both], labels[both])
        row["image_auroc"] = curves.auroc if curves else math.nan
        row["image_ap"] = curves.ap if curves else math.nan
        row["flagged"] = math.nan if image_threshold is None else float((scores[selected] > image_threshold).mean())
        table.append(row)
    return table


def _unique(name: str, used: set[str]) -> str:
    candidate, number = name, 2
    while candidate in used:
        candidate, number = f"{name}-{number}", number + 1
    used.add(candidate)
    return candidate


def _folder_name(text: str, used: set[str]) -> str:
    """Letters, digits, ``-`` and ``_`` only (no dots, so never ``..``), distinct among ``used``."""
    return _unique(plain_name(text), used)


def _write_image(path: Path, rgb: np.ndarray, options: list[int] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), options or []):
        raise GadError(f"Could not write the report picture {path} (disk full or a path OpenCV cannot encode?).")

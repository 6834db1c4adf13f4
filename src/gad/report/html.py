"""``report.html``: one static page (no server, no script), every test image per category sorted by score.

Thumbnails load lazily (``loading="lazy"``) and link to the full panels, so a few thousand images stay usable.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from gad.reporting import LABELS

STYLE = """
body{font-family:system-ui,sans-serif;margin:16px;background:#fafafa;color:#222}
h1{font-size:20px}h2{font-size:18px;margin-top:28px}h3{font-size:16px;margin-top:22px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}
td:first-child,th:first-child,td.text{text-align:left}
.note{color:#8a5300;font-size:13px}
.grid{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0;width:360px;background:#fff;border:3px solid #ddd;font-size:12px}
figure.flag{border-color:#d33}figure.pass{border-color:#3a3}
figure img{width:360px;display:block}figcaption{padding:2px 4px;overflow-wrap:anywhere}
.curves{max-width:100%}nav a{margin-right:10px}
"""


def render_html(content: dict[str, Any]) -> str:
    """The page of ``write_report``'s content (paths relative to the page)."""
    title = escape(content["title"])
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title><style>{STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        _rule(content["context"]),
        "<p>Images per category from the highest score down. Border: red = flagged at the image threshold, green = "
        "not flagged, grey = no threshold. Click a picture for its full panel (image | ground truth | anomaly map | "
        "predicted mask).</p>",
        "<nav>"
        + "".join(
            f"<a href='#{_anchor(d, c)}'>{escape(d)} / {escape(c)}</a>"
            for d, data in content["datasets"].items()
            for c in data["categories"]
        )
        + "</nav>",
    ]
    for dataset, data in content["datasets"].items():
        parts.append(f"<h2>{escape(dataset)}</h2>")
        parts.append(_category_table(dataset, data))
        parts.append("<h3>per defect type</h3>" + _defect_table(data["defects"]))
        notes: dict[str, list[str]] = {}
        for category, section in data["categories"].items():
            if section["thresholds"]["note"]:
                notes.setdefault(section["thresholds"]["note"], []).append(category)
        parts += [f"<p class='note'>{escape(', '.join(c))}: {escape(n)}</p>" for n, c in notes.items()]
        for category, section in data["categories"].items():
            parts.append(_category_section(dataset, category, section))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _rule(context: dict[str, Any]) -> str:
    """How the thresholds were chosen (and what a DDP report lacks)."""
    if "image_fpr" not in context:
        return ""
    text = (
        f"Thresholds per category from up to {context['calibration']} held-out normal training images (not the "
        f"references, never test images): image threshold at a false-positive rate of {context['image_fpr']:g} of "
        f"their scores, pixel threshold (predicted masks) at {context['pixel_fpr']:g} of their pixels."
    )
    if "note" in context:
        text += f" {context['note']}."
    return f"<p>{escape(text)}</p>"


def _category_table(dataset: str, data: dict[str, Any]) -> str:
    categories = data["categories"]
    names = list(dict.fromkeys(n for v in categories.values() for n in v["metrics"]))
    head = ["category", *(LABELS.get(n, n) for n in names), "image threshold", "pixel threshold", "precision"]
    head += ["recall", "TP", "FP", "FN", "TN"]
    rows = []
    for category, section in categories.items():
        cells = [f"<a href='#{_anchor(dataset, category)}'>{escape(category)}</a>"]
        cells += [_percent(section["metrics"].get(n)) for n in names]
        thresholds = section["thresholds"]
        cells += [_value(thresholds["image"]), _value(thresholds["pixel"])]
        at = section["at_threshold"]
        if at is None:
            cells += ["-"] * 6
        else:
            counts = at["confusion"]
            cells += [_percent(at["precision"]), _percent(at["recall"])]
            cells += [str(counts[k]) for k in ("true_positive", "false_positive", "false_negative", "true_negative")]
        rows.append(cells)
    if data["mean"]:
        rows.append(["<b>mean</b>", *(_percent(data["mean"].get(n)) for n in names), *["" for _ in range(8)]])
    return _table(head, rows)


def _defect_table(defects: list[dict]) -> str:
    head = ["category", "defect", "images", "I-AUROC vs normal", "I-AP vs normal", "mean score", "flagged"]
    rows = [
        [
            escape(d["category"]),
            escape(d["defect"]),
            str(d["images"]),
            _percent(d["image_auroc"]),
            _percent(d["image_ap"]),
            f"{d['mean_score']:.4g}",
            _percent(d["flagged"]),
        ]
        for d in defects
    ]
    return _table(head, rows)


def _category_section(dataset: str, category: str, section: dict[str, Any]) -> str:
    parts = [f"<h3 id='{_anchor(dataset, category)}'>{escape(dataset)} / {escape(category)}</h3>"]
    parts.append(f"<img class='curves' src='{escape(section['plot'])}' alt='ROC, PR and score histogram'>")
    figures = []
    for image in section["images"]:
        state = {True: "flag", False: "pass", None: ""}[image["predicted"]]
        truth = "anomalous" if image["label"] else "normal"
        caption = f"#{image['rank'] + 1} score {image['score']:.4g} · {image['defect']} ({truth})"
        figures.append(
            f"<figure class='{state}' data-path='{escape(image['path'])}' data-score='{image['score']!r}'>"
            f"<a href='{escape(image['panel'])}'><img loading='lazy' src='{escape(image['thumbnail'])}' "
            f"alt='{escape(image['path'])}'></a>"
            f"<figcaption>{escape(caption)}<br>{escape(image['path'])}</figcaption></figure>"
        )
    parts.append("<div class='grid'>" + "".join(figures) + "</div>")
    return "\n".join(parts)


def _table(head: list[str], rows: list[list[str]]) -> str:
    header = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{header}{body}</table>"


def _percent(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}"


def _value(threshold: dict | None) -> str:
    return "-" if threshold is None else f"{threshold['value']:.4g}"


def _anchor(dataset: str, category: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in f"{dataset}-{category}")

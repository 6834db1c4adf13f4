"""Why a metric is undefined (NaN): said in words per dataset and category, so that a table of ``-`` is never
the only sign that a test set cannot measure what was asked."""

from __future__ import annotations

import math
from dataclasses import dataclass

from gad.errors import GadError

CFLOW_KEY = "pixel_aupro_cflow200"


class UndefinedMetricsError(GadError):
    """An evaluation whose metrics are undefined for some category (``--allow_undefined_metrics`` accepts it)."""


@dataclass(frozen=True)
class EvaluationCounts:
    """What one category's test set holds; ``pixels`` is ``None`` when there are no pixel metrics."""

    normal_images: int
    anomalous_images: int
    anomalous_pixels: int = 0
    pixels: int | None = None


def undefined_reasons(row: dict[str, float], counts: EvaluationCounts) -> dict[str, str]:
    """{metric: why it is undefined} for the NaN values of one category's row."""
    return {metric: _reason(metric, counts) for metric, value in row.items() if math.isnan(value)}


def _reason(metric: str, counts: EvaluationCounts) -> str:
    if metric.startswith("image_"):
        if counts.anomalous_images == 0:
            return f"no anomalous test image ({counts.normal_images} normal)"
        if counts.normal_images == 0:
            return f"no normal test image ({counts.anomalous_images} anomalous)"
    elif metric.startswith("pixel_") and counts.pixels is not None:
        if counts.anomalous_pixels == 0:
            if counts.anomalous_images:
                return f"no anomalous pixel: the masks of all {counts.anomalous_images} anomalous images are empty (all zero)"
            return "no anomalous pixel: no anomalous test image"
        if counts.anomalous_pixels == counts.pixels:
            return "no normal pixel: every pixel of every mask is anomalous"
        if metric == CFLOW_KEY:
            return "the pixel scores are (nearly) constant: fewer than two of the 200 cflow thresholds lie below the FPR limit"
    return "not defined for these scores"


def undefined_lines(by_dataset: dict[str, dict[str, dict[str, str]]]) -> list[str]:
    """One line per dataset, category and reason: ``dataset/category: metric, metric: reason``."""
    lines = []
    for dataset, categories in by_dataset.items():
        for category, reasons in categories.items():
            grouped: dict[str, list[str]] = {}
            for metric, reason in reasons.items():
                grouped.setdefault(reason, []).append(metric)
            lines += [
                f"{dataset}/{category}: {', '.join(metrics)} undefined: {reason}" for reason, metrics in grouped.items()
            ]
    return lines

"""``gad benchmark``'s plot: one panel per metric, each dataset's mean over categories against K."""

from __future__ import annotations

from pathlib import Path

import cv2
import pandas as pd

from gad.cli.benchmark_command import plot_sweep


def test_plot_has_one_panel_per_metric_and_is_written_whole(tmp_path: Path) -> None:
    records = pd.DataFrame(
        [
            {"dataset": d, "category": c, "shots": k, "seed": s, "metric": m, "value": 0.5 + 0.01 * k + 0.001 * s}
            for d in ("visa", "mvtec")
            for c in ("mean", "bottle")
            for k in (1, 2, 4)
            for s in (0, 1)
            for m in ("image_auroc", "pixel_ap")
        ]
    )
    path = plot_sweep(records, tmp_path / "benchmark.png")
    image = cv2.imread(str(path))
    assert image is not None and image.shape[:2] == (320, 800)  # 2 panels of 4 x 3.2 inches at 100 dpi
    assert [p.name for p in tmp_path.iterdir()] == ["benchmark.png"]  # no partial file left
    records["metric"] = [f"m{i % 5}" for i in range(len(records))]
    assert cv2.imread(str(plot_sweep(records, path))).shape[:2] == (640, 1600)  # 5 metrics: 2 rows of 4

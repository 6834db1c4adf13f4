"""Prediction files a person can look at: one anomaly map and one overlay per image, and a table of scores."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from gad.data.images import ImageReadError
from gad.inference.detector import Detector
from gad.inference.inputs import Images, load_images
from gad.overlay import heatmap_overlay

MapFormat = Literal["npy", "png16"]
PNG16_SCALE = 65535  # a 16-bit PNG map holds round(clip(value, 0, 1) * 65535)


@dataclass
class PredictionFiles:
    """Where ``write_predictions`` put things, and the rows of the score table."""

    folder: Path
    scores_csv: Path
    scores_json: Path
    rows: list[dict]


def write_predictions(
    detector: Detector,
    images: Images,
    folder: str | Path,
    map_format: MapFormat = "npy",
    progress: bool = False,
    context: dict | None = None,
) -> PredictionFiles:
    """Score ``images`` and write ``maps/<name>.{npy,png}``, ``overlays/<name>.png``, ``scores.csv`` and
    ``scores.json`` (with ``context``: checkpoint, references, ...) under ``folder``.

    Names keep the images' paths below their common folder, so ``test/hole/000.png`` and ``test/scratch/000.png``
    do not collide. Maps are written as images are scored; overlays afterwards, all on one colour range (the set's
    minimum to maximum) so that colours compare across images, from the image file re-read (in-memory images are
    kept) and the written map, so that a long list of files is never held in memory.
    """
    folder = Path(folder)
    loaded = load_images(images, "images")
    stems = _output_stems([image.name for image in loaded])
    rows: list[dict] = []
    kept: dict[int, np.ndarray] = {}
    low, high = np.inf, -np.inf
    for index, (image, stem, prediction) in enumerate(zip(loaded, stems, detector.predict_iter(loaded, progress))):
        map_path = folder / "maps" / f"{stem}.{'npy' if map_format == 'npy' else 'png'}"
        _write_map(map_path, prediction.anomaly_map, map_format)
        low, high = min(low, float(prediction.anomaly_map.min())), max(high, float(prediction.anomaly_map.max()))
        if not isinstance(image.source, Path):
            kept[index] = prediction.image
        row: dict[str, Any] = {"image": prediction.name, "score": prediction.score}
        if prediction.anomalous is not None:
            row["anomalous"] = prediction.anomalous
        rows.append(row | {"map": map_path.relative_to(folder).as_posix(), "overlay": f"overlays/{stem}.png"})
    for index, (image, row) in enumerate(zip(loaded, rows)):
        pixels = kept[index] if index in kept else detector.view(image.pixels)
        overlay = heatmap_overlay(pixels, read_map(folder / row["map"]), vmin=low, vmax=high)
        path = folder / row["overlay"]
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
    scores_csv, scores_json = folder / "scores.csv", folder / "scores.json"
    with scores_csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    threshold = detector.threshold.as_dict() if detector.threshold else None
    summary = dict(context or {}) | {
        "method": detector.method,
        "category": detector.category,
        "references": detector.reference_names,
        "threshold": threshold,
        "map_format": map_format,
        "overlay_range": [low, high],
        "images": rows,
    }
    if map_format == "png16":
        summary["map_scale"] = f"value = png / {PNG16_SCALE}"
    scores_json.write_text(json.dumps(summary, indent=2) + "\n")
    return PredictionFiles(folder, scores_csv, scores_json, rows)


def read_map(path: str | Path) -> np.ndarray:
    """A map written by ``write_predictions``, as (H, W) float32 values."""
    path = Path(path)
    if path.suffix == ".npy":
        return np.load(path)
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ImageReadError(f"Cannot read anomaly map file {path}: not a PNG image")
    return pixels.astype(np.float32) / PNG16_SCALE


def _write_map(path: Path, anomaly_map: np.ndarray, map_format: MapFormat) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if map_format == "npy":
        np.save(path, anomaly_map.astype(np.float32))
    else:
        cv2.imwrite(str(path), np.round(np.clip(anomaly_map, 0, 1) * PNG16_SCALE).astype(np.uint16))


def _output_stems(names: list[str]) -> list[str]:
    """Output names without suffix: paths relative to their common folder; other names as they are."""
    paths = [Path(n) for n in names]
    if names and all(p.suffix for p in paths):
        common = Path(os.path.commonpath([p.resolve().parent for p in paths]))
        return [p.resolve().relative_to(common).with_suffix("").as_posix() for p in paths]
    return [Path(n).stem for n in names]

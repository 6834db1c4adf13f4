"""One picture per test image: image | ground-truth outline | heat map with its colour bar | predicted mask.

Drawn with OpenCV, not matplotlib: a few milliseconds per image, so that a report of thousands stays cheap.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from gad.output_paths import plain_name
from gad.overlay import heatmap_overlay, jet_colours
from gad.report.records import ImageRecord

MIN_TILE = 160  # tiles are shown at least this wide, so that the captions fit
GAP = 6
HEADER = 40
LABEL = 16
BAR_WIDTH = 12
BAR_TEXT = 56
FONT = cv2.FONT_HERSHEY_SIMPLEX
GREEN, RED, WHITE, BACKGROUND = (0, 230, 0), (255, 40, 40), (255, 255, 255), (28, 28, 28)


def render_panel(
    record: ImageRecord,
    low: float,
    high: float,
    image_threshold: float | None,
    pixel_threshold: float | None,
) -> np.ndarray:
    """The panel of one record, (H, W, 3) uint8 RGB. ``low``/``high``: the heat map's colour range (one per
    category, so that colours compare); the thresholds decide the verdict and the predicted mask."""
    image = _tile(record.image, cv2.INTER_LINEAR)
    side_h, side_w = image.shape[:2]
    mask = None if record.mask is None else _tile(record.mask.astype(np.uint8), cv2.INTER_NEAREST) > 0
    heat = None if record.anomaly_map is None else _tile(record.anomaly_map.astype(np.float32), cv2.INTER_LINEAR)

    truth = _outlined(image, mask)
    if mask is None:
        _note(truth, "no mask")
    elif not mask.any():
        _note(truth, "normal" if record.label == 0 else "no region")
    tiles = [("image", image), ("ground truth", truth)]
    if heat is None:
        tiles.append(("anomaly map", _noted(image // 3, "no map")))
    else:
        tiles.append(("anomaly map", heatmap_overlay(image, heat, low, high)))
    tiles.append(("predicted mask", _prediction(image, heat, mask, pixel_threshold)))

    width = len(tiles) * (side_w + GAP) + BAR_WIDTH + BAR_TEXT + GAP
    panel = np.full((HEADER + LABEL + side_h + GAP, width, 3), BACKGROUND, np.uint8)
    x = GAP
    for number, (title, tile) in enumerate(tiles):
        _text(panel, title, (x, HEADER + LABEL - 4), 0.4)
        panel[HEADER + LABEL : HEADER + LABEL + side_h, x : x + side_w] = tile
        x += side_w + GAP
        if number == 2:
            _colour_bar(
                panel, x - GAP + 2, HEADER + LABEL, side_h, low, high, None if heat is None else pixel_threshold
            )
            x += BAR_WIDTH + BAR_TEXT
    verdict = ""
    if image_threshold is not None:
        verdict = (
            f"  -> {'ANOMALOUS' if record.score > image_threshold else 'normal'} (threshold {image_threshold:.4g})"
        )
    truth_label = "anomalous" if record.label else "normal"
    _text(
        panel,
        f"{record.category} / {record.defect} ({truth_label})  score {record.score:.4g}{verdict}",
        (GAP, 16),
        0.45,
    )
    _text(panel, _short_path(record.path), (GAP, 33), 0.38, (190, 190, 190))
    return panel


def panel_name(record: ImageRecord) -> str:
    """``<category>_<defect>_<stem>_<score>``: category, defect and score in the name, so that images of the same
    name in two defect folders never collide (callers still make names unique)."""
    return "_".join(
        plain_name(part, keep=".-") for part in (record.category, record.defect, Path(record.path).stem)
    ) + (f"_s{record.score:.4f}")


def _tile(array: np.ndarray, interpolation: int) -> np.ndarray:
    height, width = array.shape[:2]
    scale = MIN_TILE / max(height, width)
    if scale <= 1:
        return array
    return cv2.resize(array, (round(width * scale), round(height * scale)), interpolation=interpolation)


def _outlined(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    outlined = image.copy()
    if mask is not None and mask.any():
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(outlined, contours, -1, GREEN, 2)
    return outlined


def _prediction(
    image: np.ndarray, heat: np.ndarray | None, mask: np.ndarray | None, pixel_threshold: float | None
) -> np.ndarray:
    """The image dimmed, pixels above the pixel threshold in red, the ground truth outlined in green."""
    dimmed = (image.astype(np.float32) * 0.45).astype(np.uint8)
    if heat is None or pixel_threshold is None:
        return _noted(dimmed, "no map" if heat is None else "no threshold")
    predicted = heat > pixel_threshold
    dimmed[predicted] = (0.35 * dimmed[predicted] + 0.65 * np.array(RED)).astype(np.uint8)
    return _outlined(dimmed, mask)


def _colour_bar(
    panel: np.ndarray, x: int, top: int, height: int, low: float, high: float, threshold: float | None
) -> None:
    """A vertical JET bar from ``high`` (top) to ``low``, labelled, with a tick at the pixel threshold."""
    ramp = jet_colours(np.linspace(1.0, 0.0, height)[:, None].repeat(BAR_WIDTH, axis=1))
    panel[top : top + height, x : x + BAR_WIDTH] = ramp
    _text(panel, f"{high:.3g}", (x + BAR_WIDTH + 3, top + 10), 0.35)
    _text(panel, f"{low:.3g}", (x + BAR_WIDTH + 3, top + height - 2), 0.35)
    if threshold is not None and high > low:
        y = top + int(round((1 - np.clip((threshold - low) / (high - low), 0, 1)) * (height - 1)))
        cv2.line(panel, (x - 2, y), (x + BAR_WIDTH + 2, y), WHITE, 2)
        _text(panel, f"thr {threshold:.3g}", (x + BAR_WIDTH + 3, min(max(y + 4, top + 24), top + height - 14)), 0.35)


def _noted(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()
    _note(tile, text)
    return tile


def _note(tile: np.ndarray, text: str) -> None:
    _text(tile, text, (4, tile.shape[0] - 6), 0.4)


def _text(canvas: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour: tuple = WHITE) -> None:
    ascii_text = text.encode("ascii", "replace").decode()
    cv2.putText(canvas, ascii_text, origin, FONT, scale, colour, 1, cv2.LINE_AA)


def _short_path(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[-3:]) if len(parts) > 3 else path

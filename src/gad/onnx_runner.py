"""Run a model exported by ``gad export`` on image files, with numpy, PIL and onnxruntime only (no torch)::

    python -m gad.onnx_runner coins.onnx line/*.png [--maps maps/]

It reads the preprocessing that the export's metadata (``coins.json`` beside the model) states and applies it
with gad's own definition (``gad.data.preprocessing``), so its scores are those of ``gad predict`` up to the
export tolerance. Prints one line per image: its path, score and, when the metadata has a threshold, whether it is
anomalous. ``--maps``: also write each anomaly map (on the model's S x S input pixels) as ``<stem>.npy``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gad.data.images import read_rgb
from gad.data.preprocessing import Preprocessing
from gad.errors import GadError


@dataclass
class OnnxResult:
    """``scores`` (N,) and ``maps`` (N, S, S) float32 of N images, in input order."""

    scores: np.ndarray
    maps: np.ndarray


class OnnxModel:
    """An exported model and its metadata (``model.json`` beside ``model.onnx``)."""

    def __init__(self, onnx_path: str | Path, batch_size: int = 8) -> None:
        try:
            import onnxruntime
        except ImportError as err:
            raise GadError(f"Running {onnx_path} needs onnxruntime: pip install onnxruntime ({err}).") from err
        onnx_path = Path(onnx_path)
        metadata_path = onnx_path.with_suffix(".json")
        if not onnx_path.is_file() or not metadata_path.is_file():
            raise GadError(f"{onnx_path}: expected a model written by gad export and its metadata {metadata_path}.")
        try:
            self.metadata = json.loads(metadata_path.read_text())
            spec = self.metadata["input"]["preprocessing"]
            self.preprocessing = Preprocessing.from_dict(
                {k: spec[k] for k in ("image_size", "resize", "interpolation")}
            )
            self.input_name = self.metadata["input"]["name"]
        except (ValueError, KeyError, TypeError) as err:
            raise GadError(
                f"{metadata_path}: not the metadata of this gad's export (no input.preprocessing rule: {err!r}); "
                "export the model again with this gad."
            ) from err
        self.session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        self.batch_size = batch_size

    @property
    def threshold(self) -> float | None:
        threshold = self.metadata.get("threshold")
        return None if threshold is None else float(threshold["value"])

    def run(self, images: Sequence[str | Path | np.ndarray]) -> OnnxResult:
        """Score image files (or (H, W, 3) uint8 RGB arrays), ``batch_size`` at a time."""
        scores, maps = [], []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            batch = np.stack([self.preprocessing(read_rgb(i) if isinstance(i, (str, Path)) else i)[0] for i in chunk])
            score, anomaly_map = self.session.run(["score", "anomaly_map"], {self.input_name: batch})
            scores.append(score)
            maps.append(anomaly_map[:, 0])
        return OnnxResult(np.concatenate(scores), np.concatenate(maps))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gad.onnx_runner", description=__doc__.split("::")[0])
    parser.add_argument("model", help="the .onnx file written by gad export (its .json beside it)")
    parser.add_argument("images", nargs="+", help="image files")
    parser.add_argument("--maps", default=None, help="folder to write each anomaly map to as <stem>.npy")
    parser.add_argument("--batch_size", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        model = OnnxModel(args.model, args.batch_size)
        result = model.run(args.images)
    except GadError as err:
        parser.exit(1, f"error: {err}\n")
    maps_folder = Path(args.maps) if args.maps else None
    if maps_folder is not None:
        stems = [Path(p).stem for p in args.images]
        if len(set(stems)) < len(stems):
            parser.error("--maps: images with the same file name would overwrite each other's map; run them apart.")
        maps_folder.mkdir(parents=True, exist_ok=True)
    threshold = model.threshold
    for path, score, anomaly_map in zip(args.images, result.scores, result.maps):
        decision = "" if threshold is None else ("\tanomalous" if score > threshold else "\tnormal")
        print(f"{path}\t{score:.6g}{decision}")
        if maps_folder is not None:
            np.save(maps_folder / f"{Path(path).stem}.npy", anomaly_map)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

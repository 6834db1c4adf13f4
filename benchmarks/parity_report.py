"""Print, per stage, the largest difference between gad and the authors' code on the parity fixtures
(``../shared/parity``, outputs of the official DictAS and InCTRL code on tiny random weights).

Everything goes through the public path: ``gad import-official``, then ``Detector.from_checkpoint``.

    python benchmarks/parity_report.py [--parity ../shared/parity]   # default: $GAD_PARITY_DIR, else ../shared/parity
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from gad.cli import main as gad
from gad.inference import Detector
from gad.models.dictas.score_fusion import fuse_normalised

REPO = Path(__file__).resolve().parents[1]


def largest(got: list, expected: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(got, np.float64) - np.asarray(expected, np.float64))))


def dictas(folder: Path, work: Path) -> dict[str, float]:
    settings = json.loads((folder / "settings.json").read_text())
    expected = dict(np.load(folder / "expected.npz"))
    queries = [str(q) for q in expected["query"]]
    output = work / "dictas.ckpt"
    gad(
        [
            "import-official",
            "dictas",
            str(folder / "dictas_mymodel.pth"),
            "--clip",
            str(folder / "tiny_clip.pt"),
            "--clip_config",
            str(folder / "tiny_clip_config.json"),
            "--protocol",
            settings["dataset_rules"],
            "--output",
            str(output),
        ]
    )
    detector = Detector.from_checkpoint(output, device="cpu")
    predictions = {}
    for category, files in settings["categories"].items():
        detector.set_references([folder / "images" / name for name in files["references"]], category)
        names = files["queries"]
        predictions.update(zip(names, detector.predict([folder / "images" / name for name in names])))
    ordered = [predictions[q] for q in queries]
    fused = np.zeros(len(queries))
    for category, files in settings["categories"].items():
        rows = [queries.index(q) for q in files["queries"]]
        alpha = detector.module.model.settings_for(category, settings["k_shot"]).alpha
        parts = (
            torch.zeros(len(rows), dtype=torch.long),
            torch.tensor([ordered[r].parts["map"] for r in rows]),
            torch.tensor([ordered[r].parts["text"] for r in rows]),
            torch.full((len(rows),), alpha),
        )
        fused[rows] = fuse_normalised(parts, parts).numpy()
    return {
        "map before smoothing": largest([p.unsmoothed_map for p in ordered], expected["map_before_smoothing"]),
        "map after smoothing": largest([p.model_map for p in ordered], expected["map_after_smoothing"]),
        "map maximum": largest([p.parts["map"] for p in ordered], expected["score_map_max"]),
        "text score": largest([p.parts["text"] for p in ordered], expected["score_text"]),
        "fused score": largest(list(fused), expected["score_fused"]),
    }


def inctrl(folder: Path, work: Path) -> dict[str, float]:
    settings = json.loads((folder / "settings.json").read_text())
    expected = dict(np.load(folder / "expected.npz"))
    queries = [f"{name}.png" for name in settings["query_order"]]
    output = work / "inctrl.ckpt"
    gad(
        [
            "import-official",
            "inctrl",
            str(folder / "checkpoint.pyth"),
            "--clip_config",
            str(folder / "model_config.json"),
            "--output",
            str(output),
        ]
    )
    names = {
        "score": "score",
        "image": "image_score",
        "text": "text_score",
        "holistic": "holistic_score",
        "patch_max": "patch_max",
    }
    worst: dict[str, float] = {}
    for images in ("images240", "images"):
        for batch in (1, 4):
            detector = Detector.from_checkpoint(output, device="cpu", batch_size=batch)
            for shots in settings["shots"]:
                for category in settings["categories"]:
                    detector.set_references([folder / images / r for r in settings["references"][:shots]], category)
                    got = detector.predict([folder / images / q for q in queries])
                    for part, key in names.items():
                        values = [p.score if part == "score" else p.parts[part] for p in got]
                        stage = f"{part} ({images}, gad batch {batch} vs official batch 1)"
                        difference = largest(values, expected[f"{category}/k{shots}/b1/{key}"])
                        worst[stage] = max(worst.get(stage, 0.0), difference)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(os.environ.get("GAD_PARITY_DIR", REPO.parent / "shared" / "parity"))  # as tests/fixtures/parity.py
    parser.add_argument("--parity", type=Path, default=default)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        for method, run in (("DictAS", dictas), ("InCTRL", inctrl)):
            for stage, value in run(args.parity / method.lower(), Path(work)).items():
                print(f"{method:7s} {stage:55s} {value:.2e}")


if __name__ == "__main__":
    main()

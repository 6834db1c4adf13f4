"""ONNX export: onnxruntime gives torch's scores and maps, references baked in; metadata says how to feed it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
import pytest
import torch

import gad
from gad.data.dataset import to_tensors
from gad.data.images import read_rgb
from gad.errors import GadError
from gad.inference import Detector
from gad.inference.onnx_export import TOLERANCE, ExportError, export_onnx
from gad.models.components.clip_backbone import ClipConfig
from gad.models.inctrl import InCTRL
from gad.onnx_runner import OnnxModel
from tests.fixtures.cli import run_gad

onnxruntime = pytest.importorskip("onnxruntime", reason="the [export] extra is not installed")


def assert_onnx_matches_torch(onnx_path: Path, detector: Detector, queries: list[Path]) -> None:
    """The ONNX runner, reading the preprocessing from the export's metadata only, gives the Detector's scores and
    maps (the Detector's maps are the model's, resized to the part of each image the model sees)."""
    size = detector.image_size
    result = OnnxModel(onnx_path).run(queries)
    assert result.maps.shape == (len(queries), size, size)
    batch = torch.stack([to_tensors(detector.preprocessing, read_rgb(p))[0] for p in queries])
    with torch.no_grad():
        expected = detector.module.model(batch, detector.category)
    np.testing.assert_allclose(result.scores, expected.score.numpy(), atol=TOLERANCE)
    np.testing.assert_allclose(result.maps, expected.anomaly_map[:, 0].numpy(), atol=TOLERANCE)
    predictions = detector.predict(queries)
    assert [p.score for p in predictions] == pytest.approx(result.scores.tolist(), abs=TOLERANCE)
    for prediction, onnx_map in zip(predictions, result.maps):
        height, width = prediction.anomaly_map.shape
        resized = cv2.resize(onnx_map, (width, height), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(resized, prediction.anomaly_map, atol=TOLERANCE)


@pytest.mark.slow
def test_gad_export_of_the_quickstart_checkpoint(
    dictas_checkpoint: Path, quickstart_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = sorted((quickstart_root / "coins" / "train" / "good").glob("*.png"))
    args = [
        "export",
        "--ckpt_path",
        str(dictas_checkpoint),
        "--references",
        *map(str, good[:2]),
        "--category",
        "coins",
        "--calibration",
        *map(str, good[2:6]),
        "--fpr",
        "0.25",
        "--output",
        str(tmp_path / "coins.onnx"),
        "--progress",
        "false",
    ]
    run_gad(monkeypatch, *args)
    metadata = json.loads((tmp_path / "coins.json").read_text())
    detector = Detector.from_checkpoint(dictas_checkpoint, device="cpu").set_references(good[:2], "coins")
    assert metadata["threshold"] == detector.calibrate(good[2:6], fpr=0.25).as_dict()
    size = detector.module.preprocessing.image_size  # the quickstart model's, from its checkpoint
    assert metadata["method"] == "DictAS" and metadata["input"]["shape"] == ["batch", 3, size, size]
    rule = metadata["input"]["preprocessing"]
    assert (rule["image_size"], rule["resize"], rule["interpolation"]) == (size, "squash", "bicubic")
    assert "Image.Resampling.BICUBIC" in " ".join(rule["steps"]) and f"Resize(({size}, {size}))" in rule["equivalent"]
    assert metadata["references"] == [str(p) for p in good[:2]]
    assert max(metadata["verification"]["max_abs_difference"].values()) <= TOLERANCE
    assert_onnx_matches_torch(
        tmp_path / "coins.onnx", detector, sorted((quickstart_root / "coins" / "test").glob("*/*.png"))[:3]
    )


@pytest.mark.slow
def test_inctrl_export_matches_torch_through_the_runner(quickstart_root: Path, tmp_path: Path) -> None:
    """Centre-cropped images of other shapes: the runner's preprocessing and the Detector's agree."""
    backbone = ClipConfig("gad-tiny-vit", pretrained=None, layers=[1, 2, 3], image_size=96)
    detector = Detector(
        InCTRL(backbone, sigma=2.0), device="cpu", allow_mixed_sizes=True
    )  # untrained heads: same graph
    detector.set_references(sorted((quickstart_root / "coins" / "train" / "good").glob("*.png"))[:2], "coins")
    result = export_onnx(detector, tmp_path / "inctrl.onnx")
    assert result.metadata["method"] == "InCTRL" and result.metadata["threshold"] is None
    assert result.metadata["input"]["preprocessing"]["resize"] == "shorter_side"
    queries = []
    for index, path in enumerate(sorted((quickstart_root / "coins" / "test").glob("*/*.png"))[:3]):
        pixels = read_rgb(path)
        queries.append(tmp_path / f"q{index}.png")
        Image.fromarray(pixels[: 101 + 7 * index] if index % 2 else pixels[:, : 97 + 9 * index]).save(queries[-1])
    assert_onnx_matches_torch(result.onnx_path, detector, queries)


@pytest.mark.slow
def test_the_runner_needs_no_torch(dictas_checkpoint: Path, quickstart_root: Path, tmp_path: Path) -> None:
    """``python -m gad.onnx_runner`` with torch made unimportable: one line per image, maps as .npy."""
    good = sorted((quickstart_root / "coins" / "train" / "good").glob("*.png"))
    detector = Detector.from_checkpoint(dictas_checkpoint, device="cpu").set_references(good[:2], "coins")
    detector.set_threshold(0.5)
    export_onnx(detector, tmp_path / "coins.onnx", verify=False)
    queries = [str(p) for p in sorted((quickstart_root / "coins" / "test").glob("*/*.png"))[:2]]
    without_torch = (
        "import sys, runpy; sys.modules['torch'] = None; runpy.run_module('gad.onnx_runner', run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", without_torch, str(tmp_path / "coins.onnx"), *queries, "--maps", str(tmp_path / "maps")],
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(Path(gad.__file__).parents[1])},
    )
    assert done.returncode == 0, done.stderr
    lines = [line.split("\t") for line in done.stdout.strip().splitlines()]
    expected = detector.predict(queries)
    assert [line[0] for line in lines] == queries
    assert [float(line[1]) for line in lines] == pytest.approx([p.score for p in expected], abs=1e-4)
    assert [line[2] == "anomalous" for line in lines] == [p.anomalous for p in expected]
    size = detector.module.preprocessing.image_size
    assert np.load(tmp_path / "maps" / f"{Path(queries[0]).stem}.npy").shape == (size, size)


def test_export_without_the_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ExportError, match=r"pip install 'gad\[export\]'"):
        export_onnx(object(), tmp_path / "x.onnx")  # type: ignore[arg-type]


@pytest.mark.parametrize("metadata", ['{"input": {"name": "images"}}', "not json"])
def test_the_runner_refuses_metadata_without_the_rule(tmp_path: Path, metadata: str) -> None:
    """An export of an older gad (no preprocessing rule) or a damaged metadata file: one line naming the file."""
    (tmp_path / "model.onnx").write_bytes(b"")
    (tmp_path / "model.json").write_text(metadata)
    with pytest.raises(GadError, match=r"model\.json: not the metadata of this gad's export.*export the model again"):
        OnnxModel(tmp_path / "model.onnx")

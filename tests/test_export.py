"""ONNX export: onnxruntime gives torch's scores and maps, references baked in; metadata says how to feed it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gad.cli import main
from gad.data.images import ResizeToTensor, read_rgb
from gad.inference import Detector
from gad.inference.onnx_export import TOLERANCE, ExportError, export_onnx
from gad.models.components.clip_backbone import ClipConfig
from gad.models.inctrl import InCTRL

onnxruntime = pytest.importorskip("onnxruntime", reason="the [export] extra is not installed")


def assert_onnx_matches_torch(onnx_path: Path, detector: Detector, queries: list[Path]) -> None:
    """A deployment feeds resized [0, 1] images: onnxruntime must give the torch model's scores and maps."""
    size = detector.image_size
    batch = torch.stack([ResizeToTensor(size)(read_rgb(p))[0] for p in queries]).numpy()
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    scores, maps = session.run(["score", "anomaly_map"], {"images": batch})
    with torch.no_grad():
        expected = detector.module.model(torch.from_numpy(batch), detector.category)
    assert maps.shape == (len(queries), 1, size, size)
    np.testing.assert_allclose(scores, expected.score.numpy(), atol=TOLERANCE)
    np.testing.assert_allclose(maps, expected.anomaly_map.numpy(), atol=TOLERANCE)
    assert [p.score for p in detector.predict(queries)] == pytest.approx(scores.tolist(), abs=TOLERANCE)


def test_gad_export_of_the_quickstart_checkpoint(
    dictas_checkpoint: Path, quickstart_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = sorted((quickstart_root / "coins" / "train" / "good").glob("*.png"))
    args = ["export", "--ckpt_path", str(dictas_checkpoint), "--references", *map(str, good[:2]), "--category", "coins",
            "--calibration", *map(str, good[2:6]), "--fpr", "0.25", "--output", str(tmp_path / "coins.onnx"),
            "--progress", "false"]
    monkeypatch.setattr(sys, "argv", ["gad", *args])
    main(args)
    metadata = json.loads((tmp_path / "coins.json").read_text())
    detector = Detector.from_checkpoint(dictas_checkpoint, device="cpu").set_references(good[:2], "coins")
    assert metadata["threshold"] == detector.calibrate(good[2:6], fpr=0.25).as_dict()
    assert metadata["method"] == "DictAS" and metadata["input"]["shape"] == ["batch", 3, 112, 112]
    assert metadata["references"] == [str(p) for p in good[:2]]
    assert max(metadata["verification"]["max_abs_difference"].values()) <= TOLERANCE
    assert_onnx_matches_torch(tmp_path / "coins.onnx", detector, sorted((quickstart_root / "coins" / "test").glob("*/*.png"))[:3])


def test_inctrl_export_matches_torch(quickstart_root: Path, tmp_path: Path) -> None:
    backbone = ClipConfig("gad-tiny-vit", pretrained=None, layers=[1, 2, 3], image_size=96)
    detector = Detector(InCTRL(backbone, sigma=2.0), device="cpu")  # untrained heads: the same graph as trained ones
    detector.set_references(sorted((quickstart_root / "coins" / "train" / "good").glob("*.png"))[:2], "coins")
    result = export_onnx(detector, tmp_path / "inctrl.onnx")
    assert result.metadata["method"] == "InCTRL" and result.metadata["threshold"] is None
    assert_onnx_matches_torch(result.onnx_path, detector, sorted((quickstart_root / "coins" / "test").glob("*/*.png"))[:3])


def test_export_without_the_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ExportError, match=r"pip install 'gad\[export\]'"):
        export_onnx(object(), tmp_path / "x.onnx")  # type: ignore[arg-type]

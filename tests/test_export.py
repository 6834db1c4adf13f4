"""ONNX export: onnxruntime gives torch's scores and maps, references baked in; metadata says how to feed it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gad.data.images import ResizeToTensor, read_rgb
from gad.inference import Detector
from gad.inference.onnx_export import TOLERANCE, ExportError, export_onnx
from gad.models.components.clip_backbone import ClipConfig
from gad.models.inctrl import InCTRL

onnxruntime = pytest.importorskip("onnxruntime", reason="the [export] extra is not installed")


def detector_for(method: str, checkpoint: Path) -> Detector:
    if method == "DictAS":
        return Detector.from_checkpoint(checkpoint, device="cpu")
    backbone = ClipConfig("gad-tiny-vit", pretrained=None, layers=[1, 2, 3], image_size=96)
    return Detector(InCTRL(backbone, sigma=2.0), device="cpu")  # untrained heads: same graph as a trained one


@pytest.mark.parametrize("method", ["DictAS", "InCTRL"])
def test_onnx_matches_torch_on_real_images(
    method: str, dictas_checkpoint: Path, quickstart_root: Path, tmp_path: Path
) -> None:
    good = sorted((quickstart_root / "coins" / "train" / "good").glob("*.png"))
    detector = detector_for(method, dictas_checkpoint).set_references(good[:2], "coins")
    detector.calibrate(good[2:6], fpr=0.25)
    result = export_onnx(detector, tmp_path / "coins.onnx")
    metadata = json.loads(result.metadata_path.read_text())
    size = detector.image_size
    assert metadata["method"] == method and metadata["input"]["shape"] == ["batch", 3, size, size]
    assert metadata["threshold"] == detector.threshold.as_dict()
    assert metadata["verification"]["tolerance"] == TOLERANCE

    # a deployment feeds resized [0, 1] images; compare with the torch detector on the same files
    queries = sorted((quickstart_root / "coins" / "test").glob("*/*.png"))[:3]
    batch = torch.stack([ResizeToTensor(size)(read_rgb(p))[0] for p in queries]).numpy()
    session = onnxruntime.InferenceSession(str(result.onnx_path), providers=["CPUExecutionProvider"])
    scores, maps = session.run(["score", "anomaly_map"], {"images": batch})
    with torch.no_grad():
        expected = detector.module.model(torch.from_numpy(batch), "coins")
    assert maps.shape == (3, 1, size, size)
    np.testing.assert_allclose(scores, expected.score.numpy(), atol=TOLERANCE)
    np.testing.assert_allclose(maps, expected.anomaly_map.numpy(), atol=TOLERANCE)
    assert [p.score for p in detector.predict(queries)] == pytest.approx(scores.tolist(), abs=TOLERANCE)


def test_export_without_the_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ExportError, match=r"pip install 'gad\[export\]'"):
        export_onnx(object(), tmp_path / "x.onnx")  # type: ignore[arg-type]

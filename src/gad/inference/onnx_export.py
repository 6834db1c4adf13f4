"""ONNX export of the inference path of one product: its encoded references baked in as constants.

The exported graph takes (B, 3, S, S) float32 RGB images in [0, 1], already preprocessed (the model normalises
inside) and returns ``score`` (B,) and ``anomaly_map`` (B, 1, S, S). A JSON file next to it says how to feed it
(``input.preprocessing``: the model's rule, exactly, see ``Preprocessing.specification``; ``gad.onnx_runner``
applies it) and holds the threshold. open_clip's batch-first attention breaks the older TorchScript exporter, so
the dynamo exporter (``torch.onnx.export(dynamo=True)``, which needs onnxscript) is used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

import gad
from gad.errors import GadError
from gad.inference.detector import Detector, NoReferencesError
from gad.models.components.few_shot import FewShotModel

INPUT_NAME = "images"
OUTPUT_NAMES = ("score", "anomaly_map")
# onnxruntime vs torch on the same input, float32 on CPU: observed ~1e-7 on the tiny test models.
TOLERANCE = 1e-4


class ExportError(GadError, RuntimeError):
    """Export cannot run: a missing optional dependency or a model without references."""


class BakedReferences(nn.Module):
    """``images -> (score, anomaly_map)`` of one category; the references are constants of the graph."""

    def __init__(self, model: FewShotModel, category: str) -> None:
        super().__init__()
        self.model = model
        self.category = category

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        out = self.model(images, self.category)
        if out.anomaly_map is None:
            raise ExportError(f"{type(self.model).__name__} gives no anomaly map; export needs one.")
        return out.score, out.anomaly_map


@dataclass
class ExportResult:
    onnx_path: Path
    metadata_path: Path
    metadata: dict


def export_onnx(
    detector: Detector, path: str | Path, verify: bool = True, external_data: bool = False, context: dict | None = None
) -> ExportResult:
    """Write ``path`` (``.onnx``) and ``path`` with ``.json`` (input size, normalisation, threshold, references).

    ``verify``: run the file with onnxruntime on a random batch and record the largest difference to torch
    (an error above ``TOLERANCE``). ``external_data``: weights in a ``.onnx.data`` file beside it (needed above
    2 GB, the protobuf limit).
    """
    onnx, onnxruntime = _optional_imports()
    if detector.category is None:
        raise NoReferencesError("No references: call set_references(normal_images) before export.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    size = detector.image_size
    wrapper = BakedReferences(detector.module.model, detector.category).eval()
    example = torch.rand(2, 3, size, size, device=detector.device)
    batch = torch.export.Dim("batch", min=1)
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            (example,),
            str(path),
            dynamo=True,
            external_data=external_data,
            verbose=False,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_shapes={"images": {0: batch}},
        )
    onnx.checker.check_model(str(path))
    backbone = detector.module.model.backbone
    metadata = dict(context or {}) | {
        "gad_version": gad.__version__,
        "method": detector.method,
        "category": detector.category,
        "references": detector.reference_names,
        "input": {
            "name": INPUT_NAME,
            "shape": ["batch", 3, size, size],
            "dtype": "float32",
            "channels": "RGB",
            "range": [0.0, 1.0],
            "preprocessing": detector.preprocessing.specification(),
            "normalisation": {
                "mean": backbone.mean.flatten().tolist(),
                "std": backbone.std.flatten().tolist(),
                "applied": "inside the model",
            },
        },
        "outputs": {"score": "(batch,) higher = more anomalous", "anomaly_map": f"(batch, 1, {size}, {size})"},
        "threshold": detector.threshold.as_dict() if detector.threshold else None,
        "decision": "anomalous when score > threshold.value",
    }
    if verify:
        metadata["verification"] = _verify(path, wrapper, onnxruntime, size, detector.device)
    metadata_path = path.with_suffix(".json")
    metadata_path.write_text(json.dumps(metadata, indent=2) + "\n")
    return ExportResult(path, metadata_path, metadata)


def _verify(
    path: Path, wrapper: BakedReferences, onnxruntime: ModuleType, size: int, device: torch.device
) -> dict[str, Any]:
    """Largest absolute difference of each output between onnxruntime (CPU) and torch on a batch of 3."""
    images = torch.rand(3, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = [t.float().cpu().numpy() for t in wrapper(images.to(device))]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(list(OUTPUT_NAMES), {INPUT_NAME: images.numpy()})
    differences = {name: float(np.abs(a - b).max()) for name, a, b in zip(OUTPUT_NAMES, got, expected)}
    if max(differences.values()) > TOLERANCE:
        raise ExportError(f"{path}: onnxruntime differs from torch by {differences} (tolerance {TOLERANCE}).")
    return {
        "runtime": f"onnxruntime {onnxruntime.__version__}",
        "max_abs_difference": differences,
        "tolerance": TOLERANCE,
    }


def _optional_imports() -> tuple[ModuleType, ModuleType]:
    try:
        import onnx
        import onnxruntime
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError as err:
        raise ExportError(f"ONNX export needs the optional dependencies: pip install 'gad[export]' ({err}).") from err
    return onnx, onnxruntime

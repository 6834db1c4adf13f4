"""DictAS parity with the authors' code (``../shared/parity/dictas``), through the public path only: the released
weights format imported by ``gad import-official``, then ``Detector.from_checkpoint`` on the fixture images.

Every stored output is compared within 1e-4: the map before and after smoothing, its maximum, the text score and
the official fused image score (min-max normalised over the category's listed queries).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gad.inference import Detector, Prediction
from gad.models.dictas.score_fusion import fuse_normalised
from tests.fixtures.parity import gad, parity_folder

pytestmark = pytest.mark.slow  # the authors' CLIP sizes on the parity fixtures

FIXTURES = parity_folder("dictas")
TOLERANCE = 1e-4
EXPECTED = dict(np.load(FIXTURES / "expected.npz"))
SETTINGS = json.loads((FIXTURES / "settings.json").read_text())
QUERIES = [str(q) for q in EXPECTED["query"]]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("dictas_import") / "dictas.ckpt"
    gad(
        "import-official",
        "dictas",
        FIXTURES / "dictas_mymodel.pth",
        "--clip",
        FIXTURES / "tiny_clip.pt",
        "--clip_config",
        FIXTURES / "tiny_clip_config.json",
        "--protocol",
        SETTINGS["dataset_rules"],
        "--output",
        output,
    )
    return output


@pytest.fixture(scope="module")
def detector(checkpoint: Path) -> Detector:
    return Detector.from_checkpoint(checkpoint, device="cpu")


@pytest.fixture(scope="module")
def predictions(detector: Detector) -> dict[str, Prediction]:
    """Each query's prediction, scored against its category's references."""
    out = {}
    for category, files in SETTINGS["categories"].items():
        detector.set_references([FIXTURES / "images" / name for name in files["references"]], category)
        queries = files["queries"]
        out.update(zip(queries, detector.predict([FIXTURES / "images" / name for name in queries])))
    return out


def check(name: str, got: np.ndarray | float, expected: np.ndarray | float) -> None:
    difference = float(np.max(np.abs(np.asarray(got, np.float64) - np.asarray(expected, np.float64))))
    assert difference <= TOLERANCE, f"{name}: max abs difference {difference:.3g} > {TOLERANCE}"


@pytest.mark.parametrize("query", QUERIES)
def test_map_before_smoothing(query: str, predictions: dict[str, Prediction]) -> None:
    check(query, predictions[query].unsmoothed_map, EXPECTED["map_before_smoothing"][QUERIES.index(query)])


@pytest.mark.parametrize("query", QUERIES)
def test_map_after_smoothing(query: str, predictions: dict[str, Prediction]) -> None:
    check(query, predictions[query].model_map, EXPECTED["map_after_smoothing"][QUERIES.index(query)])


@pytest.mark.parametrize("query", QUERIES)
def test_map_maximum(query: str, predictions: dict[str, Prediction]) -> None:
    check(query, predictions[query].parts["map"], EXPECTED["score_map_max"][QUERIES.index(query)])


@pytest.mark.parametrize("query", QUERIES)
def test_text_score(query: str, predictions: dict[str, Prediction]) -> None:
    check(query, predictions[query].parts["text"], EXPECTED["score_text"][QUERIES.index(query)])


@pytest.mark.parametrize("category", list(SETTINGS["categories"]))
def test_fused_score(category: str, detector: Detector, predictions: dict[str, Prediction]) -> None:
    """The official image score: alpha * minmax(text) + (1 - alpha) * minmax(map maximum) over the category's
    queries, alpha as the protocol says for the category."""
    queries = SETTINGS["categories"][category]["queries"]
    rows = [QUERIES.index(q) for q in queries]
    alpha = detector.module.model.settings_for(category, SETTINGS["k_shot"]).alpha
    check(f"{category} alpha", alpha, EXPECTED["alpha"][rows])
    parts = (
        torch.zeros(len(queries), dtype=torch.long),
        torch.tensor([predictions[q].parts["map"] for q in queries]),
        torch.tensor([predictions[q].parts["text"] for q in queries]),
        torch.full((len(queries),), alpha),
    )
    check(category, fuse_normalised(parts, parts).numpy(), EXPECTED["score_fused"][rows])


def test_imported_checkpoint_records_the_protocol(checkpoint: Path) -> None:
    saved = torch.load(checkpoint, weights_only=True)
    settings = SETTINGS["effective"]
    hparams = saved["hyper_parameters"]
    assert hparams["protocol"] == SETTINGS["dataset_rules"]
    assert (hparams["test_layers"], hparams["test_scales"]) == (settings["layers"], settings["scales"])
    assert (hparams["sigma"], hparams["alpha"]) == (settings["sigma"], settings["alpha"])
    assert hparams["backbone"]["quick_gelu"] is False and hparams["backbone"]["layers"] == settings["layers"]
    assert hparams["backbone"]["pretrained"] == str((FIXTURES / "tiny_clip.pt").resolve())
    assert hparams["backbone"]["model_config"] == json.loads((FIXTURES / "tiny_clip_config.json").read_text())
    assert saved["hyper_parameters"]["preprocessing"] == {
        "image_size": SETTINGS["image_size"],
        "resize": "squash",
        "interpolation": "bicubic",
    }

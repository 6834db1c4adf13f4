"""InCTRL parity with the authors' code (``../shared/parity/inctrl``), through the public path only: the released
checkpoint format imported by ``gad import-official``, then the Detector and ``gad test`` / ``gad predict`` on a
dataset folder built from the fixture images.

Every score part is compared within 1e-4 with the official code at batch 1 (its correct setting), for K = 2 and 4
and both categories (``bird`` is the semantic special case of the text prompts); gad at batch 4 is compared with
the official batch 1, since gad's scores do not depend on the batch. ``images240`` are the official model inputs
(identical pixels: the model maths); ``images`` are the sources, which gad must preprocess as the official code.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from gad.inference import Detector
from tests.fixtures.parity import gad, parity_folder

pytestmark = pytest.mark.slow  # the authors' CLIP sizes on the parity fixtures

FIXTURES = parity_folder("inctrl")
TOLERANCE = 1e-4
EXPECTED = dict(np.load(FIXTURES / "expected.npz"))
SETTINGS = json.loads((FIXTURES / "settings.json").read_text())
PARTS = {
    "score": None,
    "image": "image_score",
    "text": "text_score",
    "holistic": "holistic_score",
    "patch_max": "patch_max",
}
QUERIES = [f"{name}.png" for name in SETTINGS["query_order"]]
LABELS = [SETTINGS["query_sources"][name]["label"] for name in SETTINGS["query_order"]]
FOLDERS = ["images240", "images"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("inctrl_import") / "inctrl.ckpt"
    gad(
        "import-official",
        "inctrl",
        FIXTURES / "checkpoint.pyth",
        "--clip_config",
        FIXTURES / "model_config.json",
        "--output",
        output,
    )
    return output


def expected(category: str, shots: int, part: str) -> np.ndarray:
    return EXPECTED[f"{category}/k{shots}/b1/{PARTS[part] or part}"]


def differences(got: dict[str, list[float]], category: str, shots: int) -> dict[str, float]:
    return {part: float(np.max(np.abs(np.asarray(got[part]) - expected(category, shots, part)))) for part in PARTS}


@pytest.mark.parametrize("folder", FOLDERS)
@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("shots", SETTINGS["shots"])
@pytest.mark.parametrize("category", list(SETTINGS["categories"]))
def test_detector_score_parts(checkpoint: Path, folder: str, batch_size: int, shots: int, category: str) -> None:
    assert SETTINGS["categories"][category]["class_words"] == category.replace("_", " ")  # gad's default words
    detector = Detector.from_checkpoint(checkpoint, device="cpu", batch_size=batch_size)
    detector.set_references([FIXTURES / folder / name for name in SETTINGS["references"][:shots]], category)
    predictions = detector.predict([FIXTURES / folder / name for name in QUERIES])
    got = {part: [p.score if part == "score" else p.parts[part] for p in predictions] for part in PARTS}
    worst = differences(got, category, shots)
    assert max(worst.values()) <= TOLERANCE, f"max abs difference per part: {worst}"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Per fixture folder, a data-only config of a Folder dataset: every category with the K = 4 references as
    its normal images, q0/q1 as normal and q2/q3 as anomalous test images."""
    configs = {}
    for folder in FOLDERS:
        root = tmp_path_factory.mktemp(f"parity_{folder}")
        for category in SETTINGS["categories"]:
            split = {"train": SETTINGS["references"][:4], "test_good": QUERIES[:2], "test_bad": QUERIES[2:]}
            for sub, names in split.items():
                (root / "data" / category / sub).mkdir(parents=True)
                for name in names:
                    (root / "data" / category / sub / name).symlink_to(FIXTURES / folder / name)
        source = (
            f"{{class_path: gad.data.sources.Folder, init_args: {{root: {root / 'data'}, normal_dir: train, "
            "normal_test_dir: test_good, abnormal_dir: test_bad, name: parity}}"
        )
        (root / "data.yaml").write_text(
            f"data:\n  class_path: gad.data.datamodule.FewShotDataModule\n  init_args:\n    auxiliary: {source}\n"
            f"    target: {source}\n    shots: 4\n    batch_size: 4\n"
            "trainer: {accelerator: cpu, logger: false, enable_progress_bar: false}\n"
        )
        configs[folder] = root / "data.yaml"
    return configs


@pytest.mark.parametrize("folder", FOLDERS)
def test_gad_test_metrics(
    checkpoint: Path, dataset: dict[str, Path], folder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``gad test --ckpt_path`` with a config that names only the data: image AUROC and AP per category equal
    those of the official scores."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GAD_RUNS_DIR", raising=False)
    copy = tmp_path / "model.ckpt"  # a copy in a folder of its own: nothing beside it
    copy.write_bytes(checkpoint.read_bytes())
    gad("test", "--ckpt_path", copy, "-c", dataset[folder])
    (results,) = tmp_path.glob("runs/*_test_*/results.json")  # a checkpoint outside any run: results under runs/
    table = json.loads(results.read_text())["results"]["parity"]
    for category in SETTINGS["categories"]:
        official = expected(category, 4, "score")
        got = table[category]
        assert abs(got["image_auroc"] - roc_auc_score(LABELS, official)) <= TOLERANCE, (category, got)
        assert abs(got["image_ap"] - average_precision_score(LABELS, official)) <= TOLERANCE, (category, got)


@pytest.mark.parametrize("folder", FOLDERS)
def test_gad_predict_scores(
    checkpoint: Path, dataset: dict[str, Path], folder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``gad predict --ckpt_path`` on the datamodule's target set (batches of 4): each image's final score."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GAD_RUNS_DIR", raising=False)
    copy = tmp_path / "model.ckpt"
    copy.write_bytes(checkpoint.read_bytes())
    gad("predict", "--ckpt_path", copy, "-c", dataset[folder])
    (written,) = tmp_path.glob("runs/*_predict_*/predictions.csv")
    rows = list(csv.DictReader(written.open()))
    assert len(rows) == len(SETTINGS["categories"]) * len(QUERIES)
    for category in SETTINGS["categories"]:
        scores = {Path(r["path"]).name: float(r["score"]) for r in rows if r["category"] == category}
        got = [scores[name] for name in QUERIES]
        difference = float(np.max(np.abs(np.asarray(got) - expected(category, 4, "score"))))
        assert difference <= TOLERANCE, f"{category}: max abs score difference {difference:.3g}"


def test_imported_checkpoint_is_self_contained(checkpoint: Path) -> None:
    """The CLIP weights are inside (the official ones, unchanged), the architecture config inline, bn1 dropped,
    and the image head's first weight negated (gad subtracts query - prototype, the official code the reverse)."""
    saved = torch.load(checkpoint, weights_only=True)
    official = torch.load(FIXTURES / "checkpoint.pyth", weights_only=True)
    state = saved["state_dict"]
    for key in ("visual.conv1.weight", "transformer.resblocks.1.mlp.c_fc.weight", "token_embedding.weight"):
        assert torch.equal(state[f"model.backbone.model.{key}"], official[key])
    assert torch.equal(state["model.image_head.linears.0.weight"], -official["diff_head_ref.projection1.weight"])
    assert torch.equal(state["model.holistic_head.norms.1.running_var"], official["diff_head.bn3.running_var"])
    assert not any("bn1" in key for key in state)
    backbone = saved["hyper_parameters"]["backbone"]
    assert backbone["pretrained"] is None and backbone["layers"] == SETTINGS["taps"]["layers_1_based"]
    assert backbone["model_config"] == json.loads((FIXTURES / "model_config.json").read_text())
    assert saved["hyper_parameters"]["preprocessing"] == {
        "image_size": SETTINGS["image_size"],
        "resize": "shorter_side",
        "interpolation": "bicubic",
    }

"""The Python API: a checkpoint alone gives a detector that scores any kind of image like the evaluation does."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from PIL import Image

from gad.data.dataset import to_tensors
from gad.data.images import read_rgb
from gad.data.preprocessing import Preprocessing
from gad.errors import GadError
from gad.inference import Detector, threshold_at_fpr
from gad.inference.checkpoint import CheckpointError
from gad.inference.detector import NoReferencesError
from gad.inference.inputs import ImageInputError
from gad.models.components.clip_backbone import ClipConfig
from gad.models.dictas import DictAS
from gad.models.inctrl import InCTRL


def normals(root: Path, category: str = "gravel") -> list[Path]:
    return sorted((root / category / "train" / "good").glob("*.png"))


@pytest.fixture(scope="module")
def detector(dictas_checkpoint: Path, quickstart_root: Path) -> Detector:
    return Detector.from_checkpoint(dictas_checkpoint, device="cpu").set_references(
        normals(quickstart_root)[:4], "gravel"
    )


@pytest.mark.slow  # the detector fixture trains the session's DictAS checkpoint
def test_checkpoint_loads_without_config_and_scores_like_the_model(detector: Detector, quickstart_root: Path) -> None:
    assert isinstance(detector.module, DictAS) and detector.category == "gravel"
    query = sorted((quickstart_root / "gravel" / "test" / "hole").glob("*.png"))[0]
    (prediction,) = detector.predict(query)
    # the same image through the evaluation preprocessing and the pure torch model
    tensor = to_tensors(Preprocessing(detector.image_size), read_rgb(query))[0][None]
    with torch.no_grad():
        expected = detector.module.model(tensor, "gravel")
    assert prediction.score == pytest.approx(float(expected.score[0]), abs=1e-6)
    height, width = read_rgb(query).shape[:2]
    assert prediction.anomaly_map.shape == (height, width) and prediction.image.shape == (height, width, 3)
    assert prediction.anomalous is None


@pytest.mark.slow  # the detector fixture trains the session's DictAS checkpoint
def test_every_image_kind_gives_the_same_score(detector: Detector, quickstart_root: Path) -> None:
    path = sorted((quickstart_root / "gravel" / "test" / "stain").glob("*.png"))[0]
    pixels = read_rgb(path)
    kinds = [
        str(path),
        Image.open(path),
        pixels,
        pixels.astype(np.float32) / 255,
        torch.from_numpy(pixels).permute(2, 0, 1).float() / 255,
    ]
    scores = [p.score for p in detector.predict(kinds)]
    assert scores == pytest.approx([scores[0]] * len(kinds), abs=1e-6)
    batch = torch.from_numpy(np.stack([pixels, pixels])).permute(0, 3, 1, 2).float() / 255
    assert [p.score for p in detector.predict(batch)] == pytest.approx([scores[0]] * 2, abs=1e-6)


def test_threshold_at_fpr_flags_at_most_that_share() -> None:
    scores = np.arange(1, 101, dtype=float)
    assert threshold_at_fpr(scores, 0.05).value == 95 and (scores > 95).sum() == 5
    assert threshold_at_fpr(scores, 0.0).value == 100
    assert threshold_at_fpr([0.3, 0.1], 0.2).value == 0.3  # too few normals for 20 %: none flagged
    with pytest.raises(GadError, match="fpr"):
        threshold_at_fpr(scores, 1.5)
    with pytest.raises(GadError, match="at least one"):
        threshold_at_fpr([], 0.1)


@pytest.mark.slow  # the detector fixture trains the session's DictAS checkpoint
def test_calibration_on_held_out_normals_sets_decisions(detector: Detector, quickstart_root: Path) -> None:
    images = normals(quickstart_root)
    detector = Detector(detector.module, device="cpu").set_references(images[:4], "gravel")
    held_out = images[4:]
    threshold = detector.calibrate(held_out, fpr=0.25)
    predictions = detector.predict(held_out)
    assert threshold.normals == len(held_out) and threshold.fpr == 0.25
    assert 0 < sum(p.anomalous for p in predictions) <= 0.25 * len(held_out)
    with pytest.raises(GadError, match="are references"):
        detector.calibrate(images[:6])


def test_a_checkpoint_carries_its_preprocessing(quickstart_root: Path, tmp_path: Path) -> None:
    """A copied InCTRL checkpoint, no run folder beside it, centre-crops as in training (its hyperparameters)."""
    module = InCTRL(ClipConfig("gad-tiny-vit", pretrained=None, layers=[1, 2, 3], image_size=96), sigma=2.0)
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(module)
    trainer.save_checkpoint(tmp_path / "copied.ckpt")
    hparams = torch.load(tmp_path / "copied.ckpt", weights_only=False)["hyper_parameters"]
    assert hparams["preprocessing"] == {"image_size": 96, "resize": "shorter_side", "interpolation": "bicubic"}
    cropping = Detector.from_checkpoint(tmp_path / "copied.ckpt", device="cpu", allow_mixed_sizes=True)
    assert cropping.preprocessing == Preprocessing(96, "shorter_side")
    cropping.set_references(normals(quickstart_root)[:4], "gravel")
    pixels = read_rgb(normals(quickstart_root)[5])
    wide = np.concatenate([pixels[:, :20], pixels, pixels[:, -20:]], axis=1)
    (on_wide,) = cropping.predict(wide)
    as_in_gad_test = to_tensors(Preprocessing(96, "shorter_side"), wide)[0][None]
    with torch.no_grad():
        expected = float(cropping.module.model(as_in_gad_test, "gravel").score[0])
    assert on_wide.score == pytest.approx(expected, abs=1e-6)
    # 128 x 168 -> 96 x 126, crop at column 15 of 126: columns 20 to 148 of the wide image, the original pixels
    assert on_wide.anomaly_map.shape == pixels.shape[:2] and np.array_equal(on_wide.image, pixels)


@pytest.mark.slow  # the detector fixture trains the session's DictAS checkpoint
def test_in_memory_calibration_images_are_not_taken_for_references(detector: Detector, quickstart_root: Path) -> None:
    images = [read_rgb(path) for path in normals(quickstart_root)]
    detector = Detector(detector.module, device="cpu").set_references(images[:4], "gravel")
    assert detector.calibrate(images[4:], fpr=0.25).normals == len(images) - 4


@pytest.mark.slow  # the detector fixture trains the session's DictAS checkpoint
def test_bad_images_are_clear_errors(detector: Detector, quickstart_root: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageInputError, match="holds no image"):
        detector.set_references(empty)
    with pytest.raises(ImageInputError, match="does not exist"):
        detector.predict(tmp_path / "missing.png")
    with pytest.raises(ImageInputError, match="matches no image"):
        detector.predict(str(tmp_path / "*.png"))
    with pytest.raises(ImageInputError, match=r"values in \[0, 1\]"):
        detector.predict(np.full((32, 32, 3), 200.0))
    with pytest.raises(ImageInputError, match="shape"):
        detector.predict(np.zeros((4, 32, 32, 5)))
    small = np.zeros((64, 80, 3), np.uint8)
    with pytest.raises(ImageInputError, match="80x64 px but the references' size is 128x128"):
        detector.predict(small)
    with pytest.raises(ImageInputError, match="image_1 is 80x64"):
        Detector(detector.module, device="cpu").set_references([read_rgb(normals(quickstart_root)[0]), small])
    with pytest.raises(NoReferencesError):
        Detector(detector.module, device="cpu").predict(small)


@pytest.mark.slow
def test_bad_checkpoints_are_clear_errors(dictas_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        Detector.from_checkpoint(tmp_path / "none.ckpt")
    (tmp_path / "text.ckpt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="Cannot read"):
        Detector.from_checkpoint(tmp_path / "text.ckpt")
    saved = torch.load(dictas_checkpoint, map_location="cpu", weights_only=True)
    cases = {
        "gad.models.inctrl.InCTRL": "do not fit gad.models.inctrl.InCTRL",  # another method's class, DictAS weights
        "torch.nn.Linear": "outside gad: its module is not imported",
        "gad.models.dictas.torch_model.DictASModel": "not a gad few-shot model",  # gad's, but not a LightningModule
        "gad.models.nothing.Model": "which this gad does not have",
    }
    for class_path, message in cases.items():
        saved["gad"] = {"class_path": class_path, "format": 1}
        torch.save(saved, tmp_path / "edited.ckpt")
        with pytest.raises(CheckpointError, match=message):
            Detector.from_checkpoint(tmp_path / "edited.ckpt")
    saved["gad"] = {"class_path": "gad.models.dictas.DictAS", "format": 99}
    torch.save(saved, tmp_path / "edited.ckpt")
    with pytest.raises(CheckpointError, match="newer gad"):
        Detector.from_checkpoint(tmp_path / "edited.ckpt")


@pytest.mark.slow
def test_readme_example_runs(
    dictas_checkpoint: Path,
    quickstart_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    (example,) = [block for block in readme.split("```python\n")[1:] if "Detector.from_checkpoint" in block]
    images = normals(quickstart_root)
    for folder, files in {
        "good": images[:4],
        "held_out_good": images[4:],
        "line": sorted((quickstart_root / "gravel" / "test" / "hole").glob("*.png")),
    }.items():
        (tmp_path / folder).mkdir()
        for file in files:
            (tmp_path / folder / file.name).symlink_to(file)
    monkeypatch.chdir(tmp_path)
    exec(example.split("```")[0].replace("runs/<folder>/checkpoints/best.ckpt", str(dictas_checkpoint)), {})
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3 and all(line.startswith("line/") for line in printed)

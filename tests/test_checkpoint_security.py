"""Checkpoints are what users send each other: none may run code, and each bad one is refused in one line.

The payload is real: a pickled object whose ``__reduce__`` creates a marker file when unpickled (the test proves it
does under ``weights_only=False``); every gad entry point must refuse the file and leave no marker.
"""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gad.inference import Detector
from gad.inference.checkpoint import CheckpointError
from gad.models.base import CHECKPOINT_KEY
from gad.models.checkpoint_file import write_checkpoint
from gad.models.components.clip_backbone import ClipConfig
from gad.models.dictas import DictAS
from gad.models.inctrl import InCTRL
from gad.models.patch_residual import PatchResidual
from tests.fixtures.cli import gad_error, run_gad

TINY = ClipConfig("gad-tiny-vit", None, [1, 2, 3, 4], image_size=112)
DATA_ONLY = """data:
  class_path: gad.data.datamodule.FewShotDataModule
  init_args:
    auxiliary: {class_path: gad.data.sources.Folder, init_args: {root: nowhere}}
    target: {class_path: gad.data.sources.Folder, init_args: {root: nowhere}}
"""


class Payload:
    """Unpickling this calls ``open(marker, "w")``: code chosen by whoever wrote the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return builtins.open, (str(self.marker), "w")


@pytest.fixture()
def crafted(tmp_path: Path) -> tuple[Path, Path]:
    """(checkpoint, marker): a gad-looking checkpoint whose hyperparameters carry the payload."""
    marker = tmp_path / "marker"
    checkpoint = tmp_path / "model.ckpt"
    torch.save(
        {
            "state_dict": {},
            "hyper_parameters": {"_class_path": "gad.models.patch_residual.PatchResidual", "sigma": Payload(marker)},
            CHECKPOINT_KEY: {"class_path": "gad.models.patch_residual.PatchResidual", "format": 1},
        },
        checkpoint,
    )
    return checkpoint, marker


@pytest.fixture()
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "good"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((112, 112, 3), 60 * i, np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.fixture(scope="module")
def plain_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return write_checkpoint(PatchResidual(TINY), tmp_path_factory.mktemp("plain") / "patch.ckpt")


def test_the_payload_is_real(crafted: tuple[Path, Path]) -> None:
    checkpoint, marker = crafted
    torch.load(checkpoint, weights_only=False)
    assert marker.exists()


def test_detector_refuses_crafted_checkpoint(crafted: tuple[Path, Path]) -> None:
    checkpoint, marker = crafted
    with pytest.raises(CheckpointError, match="refuses to load") as error:
        Detector.from_checkpoint(checkpoint)
    assert "\n" not in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize("command", ["predict", "export", "test"])
def test_commands_refuse_crafted_checkpoint(
    command: str, crafted: tuple[Path, Path], images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint, marker = crafted
    monkeypatch.chdir(tmp_path)
    args = {
        "predict": [
            "predict",
            "--ckpt_path",
            str(checkpoint),
            "--references",
            str(images),
            "--images",
            str(images),
            "--output",
            str(tmp_path / "out"),
        ],
        "export": [
            "export",
            "--ckpt_path",
            str(checkpoint),
            "--references",
            str(images),
            "--output",
            str(tmp_path / "model.onnx"),
        ],
        "test": ["test", "--ckpt_path", str(checkpoint)],
    }[command]
    message = gad_error(monkeypatch, *args)
    prefix = "gad" if command == "test" else f"gad {command}"  # Lightning's commands all say "gad: error:"
    assert message.startswith(f"{prefix}: error: {checkpoint} holds Python objects") and "refuses to load" in message
    assert not marker.exists()
    assert not (tmp_path / "out").exists() and not (tmp_path / "model.onnx").exists()


def test_gad_test_checks_the_checkpoint_first(
    plain_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(plain_checkpoint.read_bytes()[:5000])
    assert "Cannot read" in gad_error(monkeypatch, "test", "--ckpt_path", truncated)

    newer = torch.load(plain_checkpoint, weights_only=True)
    newer[CHECKPOINT_KEY]["format"] = 99
    torch.save(newer, tmp_path / "newer.ckpt")
    assert "newer gad" in gad_error(monkeypatch, "test", "--ckpt_path", tmp_path / "newer.ckpt")

    data = tmp_path / "data.yaml"
    data.write_text(DATA_ONLY)
    message = gad_error(
        monkeypatch, "test", "--ckpt_path", plain_checkpoint, "-c", data, "--model", "gad.models.dictas.DictAS"
    )
    assert "PatchResidual but the config's model is gad.models.dictas.DictAS" in message
    assert not (tmp_path / "test").exists() and not plain_checkpoint.with_name("test").exists()


@pytest.mark.parametrize(
    "module",
    [
        lambda: DictAS(TINY, test_layers=[2, 4], sigma=2.0),
        lambda: InCTRL(ClipConfig("gad-tiny-vit", None, [1, 2, 3], image_size=112), class_names={"a": "b"}),
        lambda: PatchResidual(TINY),
    ],
    ids=["dictas", "inctrl", "patch_residual"],
)
def test_written_checkpoints_are_plain_and_load_back(module, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = module()
    path = write_checkpoint(model, tmp_path / "model.ckpt")
    saved = torch.load(path, weights_only=True)  # plain types only
    assert isinstance(saved["hyper_parameters"]["backbone"], dict)
    loaded = Detector.from_checkpoint(path, device="cpu").module
    assert type(loaded) is type(model) and dict(loaded.hparams) == dict(model.hparams)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_a_model_class_outside_gad_is_never_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing the module a checkpoint names runs its code: only gad's classes are imported unless trusted."""
    marker = tmp_path / "imported"
    (tmp_path / "evil_module.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Model: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    checkpoint = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, CHECKPOINT_KEY: {"class_path": "evil_module.Model", "format": 1}}, checkpoint)
    with pytest.raises(CheckpointError, match="outside gad: its module is not imported.*GAD_TRUSTED_MODULES"):
        Detector.from_checkpoint(checkpoint, device="cpu")
    assert "outside gad" in gad_error(monkeypatch, "test", "--ckpt_path", checkpoint)
    assert not marker.exists()
    monkeypatch.setenv("GAD_TRUSTED_MODULES", "evil_module")
    with pytest.raises(CheckpointError, match="not a gad few-shot model"):
        Detector.from_checkpoint(checkpoint, device="cpu")
    assert marker.exists()  # trusted: imported, then refused as not a gad model


def test_gad_metadata_that_is_not_gad_s_is_one_line(tmp_path: Path) -> None:
    checkpoint = tmp_path / "odd.ckpt"
    torch.save(
        {"state_dict": {}, CHECKPOINT_KEY: {"class_path": "gad.models.dictas.DictAS", "format": "1"}}, checkpoint
    )
    with pytest.raises(CheckpointError, match="its gad metadata is not gad's"):
        Detector.from_checkpoint(checkpoint, device="cpu")


def test_predictions_of_a_checkpoint_outside_any_run_go_under_the_runs_folder(
    plain_checkpoint: Path, images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An imported or copied checkpoint has no run folder: gad writes under runs/, never beside the file."""
    beside = set(plain_checkpoint.parent.iterdir())
    monkeypatch.setenv("GAD_RUNS_DIR", str(tmp_path / "runs"))
    run_gad(monkeypatch, "predict", "--ckpt_path", plain_checkpoint, "--references", images, "--images", images)
    assert set(plain_checkpoint.parent.iterdir()) == beside
    (written,) = (tmp_path / "runs").iterdir()
    assert (written / "scores.csv").is_file()

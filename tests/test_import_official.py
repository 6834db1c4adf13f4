"""``gad import-official`` on the authors' checkpoint formats (the parity fixtures): the mapping, and each bad
input refused in one line with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import open_clip
import pytest
import torch

from gad.inference import Detector
from gad.models.dictas.official import convert
from tests.fixtures.cli import gad_error, run_gad
from tests.fixtures.parity import parity_folder

DICTAS = parity_folder("dictas")
INCTRL = parity_folder("inctrl")


def refused(args: list[str | Path], monkeypatch: pytest.MonkeyPatch) -> str:
    """The one-line message ``gad import-official`` exits with; the output is not written."""
    message = gad_error(monkeypatch, "import-official", *args)
    assert message.startswith("gad import-official: error: "), message
    assert not Path(args[args.index("--output") + 1]).exists()
    return message


def dictas_args(
    weights: Path, output: Path, clip: Path = DICTAS / "tiny_clip.pt", config: Path = DICTAS / "tiny_clip_config.json"
) -> list[str | Path]:
    return ["dictas", weights, "--clip", clip, "--clip_config", config, "--output", output]


def test_dictas_tensors_map_one_to_one() -> None:
    official = torch.load(DICTAS / "dictas_mymodel.pth", weights_only=True)["Mymodel"]
    renamed = convert(official, "w.pth")
    assert len(official) == len(renamed) == 42
    value = official["Value_Generator.AttnBlock.TwoLayerMLP.linear3.weight"]
    assert torch.equal(renamed["generators.value.block.fc3.weight"], value)
    assert torch.equal(renamed["head.project.bias"], official["Fuse_Feature.fuse_modules.bias"])


def test_other_method_truncated_and_gad_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out.ckpt"
    message = refused(dictas_args(INCTRL / "checkpoint.pyth", out), monkeypatch)
    assert "is InCTRL's checkpoint format, not DictAS's: use gad import-official inctrl" in message
    message = refused(["inctrl", DICTAS / "dictas_mymodel.pth", "--output", out], monkeypatch)
    assert "is DictAS's checkpoint format, not InCTRL's: use gad import-official dictas" in message
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes((DICTAS / "dictas_mymodel.pth").read_bytes()[:100_000])
    assert "Cannot read" in refused(dictas_args(truncated, out), monkeypatch)
    other = tmp_path / "other.pth"
    torch.save({"weights": torch.zeros(2)}, other)
    assert "is not a dictas checkpoint" in refused(dictas_args(other, out), monkeypatch)


def test_missing_clip_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = dictas_args(DICTAS / "dictas_mymodel.pth", tmp_path / "o.ckpt", clip=tmp_path / "no.pt")
    message = refused(args, monkeypatch)
    assert f"--clip {tmp_path / 'no.pt'} does not exist" in message


def narrower(config: Path, folder: Path, name: str) -> Path:
    """The architecture of ``config`` with half the vision width: the released weights cannot fit it."""
    architecture = json.loads(config.read_text())
    vision = architecture["vision_cfg"]
    vision["width"] //= 2
    vision["head_width"] = min(vision["head_width"], vision["width"])
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(architecture))
    return path


def test_shapes_that_do_not_fit_the_clip_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = narrower(DICTAS / "tiny_clip_config.json", tmp_path, "narrow_clip")
    clip = tmp_path / "narrow_clip.pt"
    open_clip.add_model_config(config)
    torch.save(open_clip.create_model("narrow_clip").state_dict(), clip)
    message = refused(dictas_args(DICTAS / "dictas_mymodel.pth", tmp_path / "o.ckpt", clip, config), monkeypatch)
    assert "shapes do not fit the CLIP 'narrow_clip'" in message and "(64, 64) in the file but (32, 32)" in message
    config = narrower(INCTRL / "model_config.json", tmp_path, "narrow_inctrl_clip")
    message = refused(
        ["inctrl", INCTRL / "checkpoint.pyth", "--clip_config", config, "--output", tmp_path / "o.ckpt"], monkeypatch
    )
    assert "shapes do not fit the CLIP 'narrow_inctrl_clip'" in message


@pytest.mark.slow
def test_float16_clip_at_another_image_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture CLIP is float16 (as OpenAI's files); an image-size override resizes its position embedding."""
    output = tmp_path / "dictas_280.ckpt"
    run_gad(monkeypatch, "import-official", *dictas_args(DICTAS / "dictas_mymodel.pth", output), "--image_size", "280")
    detector = Detector.from_checkpoint(output, device="cpu")
    assert detector.image_size == 280 and detector.module.backbone.grid == (20, 20)
    assert torch.load(output, weights_only=True)["hyper_parameters"]["preprocessing"]["image_size"] == 280


@pytest.mark.slow
@pytest.mark.parametrize("command", ["predict", "export"])
def test_imported_checkpoint_works_with_predict_and_export(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing but the imported checkpoint (in a folder of its own) and the CLIP file it names."""
    output = tmp_path / "alone" / "dictas.ckpt"
    run_gad(monkeypatch, "import-official", *dictas_args(DICTAS / "dictas_mymodel.pth", output), "--protocol", "visa")
    references = [str(DICTAS / "images" / f"cable_ref_mvtec_000{i}.png") for i in (368, 380)]
    query = str(DICTAS / "images" / "cable_query_bent_wire_000521.png")
    if command == "predict":
        run_gad(
            monkeypatch,
            "predict",
            "--ckpt_path",
            output,
            "--references",
            *references,
            "--images",
            query,
            "--category",
            "cable",
            "--output",
            tmp_path / "out",
            "--progress",
            "false",
        )
        assert (tmp_path / "out" / "scores.csv").is_file()
    else:
        run_gad(
            monkeypatch,
            "export",
            "--ckpt_path",
            output,
            "--references",
            *references,
            "--category",
            "cable",
            "--output",
            tmp_path / "cable.onnx",
            "--progress",
            "false",
        )
        metadata = json.loads((tmp_path / "cable.json").read_text())
        assert max(metadata["verification"]["max_abs_difference"].values()) <= 1e-4

"""No code runs from a user's file: crafted `pretrained:` payloads are refused with one line, and a marker file
proves that their code never ran."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from gad.models.components.clip_backbone import ClipBackbone, ClipConfig
from gad.models.components.pretrained import WeightsFileError

ROOT = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling this creates ``marker``: what an attacker's checkpoint would do with a full unpickler."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def evil_pickle(path: Path, marker: Path) -> Path:
    torch.save({"visual.proj": Payload(marker)}, path)
    return path


def evil_with_constants_member(path: Path, marker: Path) -> Path:
    """A torch.save pickle with code plus a member whose name merely ends with ``constants.pkl``: the old check
    took it for TorchScript and unpickled it fully."""
    evil_pickle(path, marker)
    with zipfile.ZipFile(path, "a") as archive:
        top = archive.namelist()[0].split("/")[0]
        archive.writestr(f"{top}/x/evilconstants.pkl", b"")
    return path


def test_payloads_would_run_code_with_a_full_unpickler(tmp_path: Path) -> None:
    """The payloads are real: loaded the unsafe way, they create the marker."""
    marker = tmp_path / "ran"
    torch.load(evil_with_constants_member(tmp_path / "w.pt", marker), weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("craft", [evil_pickle, evil_with_constants_member])
def test_pretrained_file_with_code_is_refused_and_never_runs(tmp_path: Path, craft) -> None:
    marker = tmp_path / "ran"
    path = craft(tmp_path / "weights.pt", marker)
    with pytest.raises(WeightsFileError) as info:
        ClipBackbone(ClipConfig("gad-tiny-vit", str(path), [1]))
    message = str(info.value)
    assert str(path) in message and "\n" not in message and "gad-tiny-vit" in message
    assert not marker.exists()


def test_torchscript_is_loaded_without_python_unpickling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real TorchScript archive (constants.pkl at the top) goes through torch.jit.load and gives the weights."""
    torch.manual_seed(0)
    reference = ClipBackbone(ClipConfig("gad-tiny-vit", None, [1, 3]))
    path = tmp_path / "tiny-jit.pt"
    torch.jit.save(torch.jit.script(_StateHolder(reference.model.state_dict())), path)
    assert any(name.split("/", 1)[1] == "constants.pkl" for name in zipfile.ZipFile(path).namelist())
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("TorchScript must not go through torch.load"))
    loaded = ClipBackbone(ClipConfig("gad-tiny-vit", str(path), [1, 3]))
    assert loaded.quick_gelu  # OpenAI's TorchScript files were trained with QuickGELU
    for name, tensor in reference.model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[name], tensor, msg=name)


class _StateHolder(torch.nn.Module):
    """A TorchScript module whose state dict is the given one (dotted names rebuilt as submodules)."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        for name, tensor in state.items():
            *parents, leaf = name.split(".")
            module: torch.nn.Module = self
            for part in parents:
                if not hasattr(module, part):
                    module.add_module(part, torch.nn.Module())
                module = getattr(module, part)
            module.register_buffer(leaf, tensor.clone())

    def forward(self) -> int:
        return 0


@pytest.mark.parametrize("content", [b"", os.urandom(4096)], ids=["empty", "random-bytes"])
def test_pretrained_file_that_is_not_weights_is_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(content)
    with pytest.raises(WeightsFileError) as info:
        ClipBackbone(ClipConfig("gad-tiny-vit", str(path), [1]))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_other_architecture_state_dict_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "other.bin"
    torch.save({"conv.weight": torch.zeros(3, 3), "fc.bias": torch.zeros(2)}, path)
    with pytest.raises(WeightsFileError, match="state dict of 'gad-tiny-vit'") as info:
        ClipBackbone(ClipConfig("gad-tiny-vit", str(path), [1]))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.slow  # two fresh gad fit processes
def test_gad_fit_with_bad_weights_file_prints_one_line(tmp_path: Path) -> None:
    """Through the CLI the error is one line, not jsonargparse's dump of every Union alternative."""
    path = tmp_path / "random.bin"
    path.write_bytes(os.urandom(1024))
    marker = tmp_path / "ran"
    evil = evil_with_constants_member(tmp_path / "evil.pt", marker)
    env = os.environ | {
        "PYTHONPATH": str(ROOT / "src"),
        "GAD_RUNS_DIR": str(tmp_path / "runs"),
        "WANDB_MODE": "disabled",
        "HF_HUB_OFFLINE": "1",
    }
    for weights in (path, evil):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "gad",
                "fit",
                "--config",
                str(ROOT / "configs" / "quickstart.yaml"),
                "--model.init_args.backbone.pretrained",
                str(weights),
                "--data.init_args.auxiliary.init_args.root",
                str(tmp_path / "data"),
                "--data.init_args.target.init_args.root",
                str(tmp_path / "data"),
                "--trainer.max_epochs",
                "1",
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=300,
        )
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
        assert str(weights) in lines[-1] and "cannot be loaded" in lines[-1], result.stderr[-3000:]
    assert not marker.exists()


# ---------------------------------------------------------------------------- converters stay in their folders

from gad.data.converters import (  # noqa: E402
    AITEXConverter,
    BrainMRIConverter,
    CIFAR10Converter,
    ConversionError,
    ELPVConverter,
    HeadCTConverter,
    KolektorSDDConverter,
    MNISTConverter,
)
from gad.data.converters.base import Output  # noqa: E402
from tests.fixtures import raw_datasets as raw  # noqa: E402

EVERY_CONVERTER = [
    (KolektorSDDConverter, raw.write_kolektor),
    (AITEXConverter, raw.write_aitex),
    (ELPVConverter, raw.write_elpv),
    (BrainMRIConverter, raw.write_brainmri),
    (HeadCTConverter, raw.write_headct),
    (MNISTConverter, raw.write_mnist_idx),
    (CIFAR10Converter, raw.write_cifar_batches),
]


def outside_snapshot(tmp_path: Path) -> dict:
    """Everything under tmp_path but the source: a conversion that was refused must not have written there."""
    return {k: v for k, v in raw.snapshot(tmp_path).items() if not k.startswith("raw")}


@pytest.mark.parametrize("traversal", [True, False], ids=["traversal", "absolute"])
@pytest.mark.parametrize("converter, writer", EVERY_CONVERTER, ids=[c.name for c, _ in EVERY_CONVERTER])
def test_every_converter_refuses_a_source_link_leading_outside(
    tmp_path: Path, converter, writer, traversal: bool
) -> None:
    """A raw download can carry a link ``x -> /etc/hostname`` or ``x -> ../../X`` next to its images: the
    conversion refuses it, naming the link, instead of copying a foreign file into the dataset."""
    src = tmp_path / "raw"
    writer(src)
    (tmp_path / "X").write_text("secret\n")
    first = sorted(p for p in src.rglob("*") if p.is_file())[0]
    link = first.with_name("zz_" + first.name)
    target = os.path.relpath(tmp_path / "X", link.parent) if traversal else "/etc/hostname"  # ../../../X
    link.symlink_to(target)
    before = outside_snapshot(tmp_path)
    with pytest.raises(ConversionError) as info:
        converter(progress=False).prepare(src, tmp_path / "out")
    assert str(link) in str(info.value) and target in str(info.value) and "\n" not in str(info.value)
    assert outside_snapshot(tmp_path) == before and not (tmp_path / "out").exists()


@pytest.mark.parametrize("relative", ["../../X", "/etc/hostname", "a/../../X", ""])
def test_output_paths_outside_the_destination_are_refused(tmp_path: Path, relative: str) -> None:
    """The one check behind every converter's writes."""
    out = Output((tmp_path / "out").resolve())
    with pytest.raises(ConversionError, match="outside the destination"):
        out.copy(Path(__file__), relative)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def elpv_line(src: Path, number: int, line: str) -> Path:
    labels = src / "src" / "elpv_dataset" / "data" / "labels.csv"
    lines = labels.read_text().splitlines()
    lines[number - 1] = line
    labels.write_text("\n".join(lines) + "\n")
    return labels


@pytest.mark.parametrize(
    "line",
    [
        "../../../../X  0.0  mono",
        "/etc/hostname  1.0  poly",
        "images/cell0003.png  1.0  ../../X",
        "images/cell0003.png  1.0  /etc/hostname",
    ],
    ids=["path-traversal", "path-absolute", "type-traversal", "type-absolute"],
)
def test_elpv_label_file_cannot_name_files_outside(tmp_path: Path, line: str) -> None:
    src = tmp_path / "raw"
    raw.write_elpv(src)
    (tmp_path / "X").write_text("secret\n")
    labels = elpv_line(src, 3, line)
    before = outside_snapshot(tmp_path)
    with pytest.raises(ConversionError) as info:
        ELPVConverter(progress=False).prepare(src, tmp_path / "out")
    assert f"{labels} line 3" in str(info.value) and "\n" not in str(info.value)
    assert outside_snapshot(tmp_path) == before and not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["../../X", "/etc/hostname"])
def test_headct_label_file_ids_are_numbers(tmp_path: Path, value: str) -> None:
    src = tmp_path / "raw"
    raw.write_headct(src)
    labels = src / "labels.csv"
    lines = labels.read_text().splitlines()
    lines[4] = f"{value},0"
    labels.write_text("\n".join(lines) + "\n")
    before = outside_snapshot(tmp_path)
    with pytest.raises(ConversionError) as info:
        HeadCTConverter(progress=False).prepare(src, tmp_path / "out")
    assert f"{labels} line 5" in str(info.value) and value in str(info.value)
    assert outside_snapshot(tmp_path) == before and not (tmp_path / "out").exists()

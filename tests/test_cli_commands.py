"""The gad command's overview: every command listed, answered before torch is imported; models by class name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import gad.models
from gad.cli.commands import COMMANDS
from gad.cli.model_names import import_model_packages
from tests.conftest import REPO
from tests.fixtures.cli import gad_error, run_gad

QUICKSTART = str(REPO / "configs" / "quickstart.yaml")
EVERY_COMMAND = ("fit", "validate", "test", "predict", "benchmark", "data", "export", "import-official")


def test_help_lists_every_command_without_importing_torch() -> None:
    script = "import sys; from gad.cli import main; main(['--help']); print(sorted(m for m in sys.modules if m in ('torch', 'lightning')))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.rstrip().endswith("[]"), "gad --help imported torch or lightning"
    listed = [line.split()[0] for line in out.split("commands:\n")[1].split("\n\n")[0].splitlines()]
    assert listed == list(EVERY_COMMAND) == list(COMMANDS)


def test_a_mistyped_command_lists_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    message = gad_error(monkeypatch, "tset", "--shots", "2")
    assert message.startswith("gad: error: unknown command 'tset'")
    assert message.split("choose from ")[1].split(" (")[0].split(", ") == list(EVERY_COMMAND)


def test_every_model_package_is_found() -> None:
    folders = {p.parent.name for p in Path(gad.models.__file__).parent.glob("*/__init__.py")}
    assert {name.rsplit(".", 1)[1] for name in import_model_packages()} == folders


@pytest.mark.parametrize(
    "name, class_path",
    [("PatchResidual", "gad.models.patch_residual.PatchResidual"), ("InCTRL", "gad.models.inctrl.InCTRL")],
)
def test_a_model_is_named_by_its_class_name(
    name: str, class_path: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit):
        run_gad(monkeypatch, "test", "--config", QUICKSTART, "--model", name, "--print_config")
    assert yaml.safe_load(capsys.readouterr().out)["model"]["class_path"] == class_path


def test_predict_help_documents_the_image_mode(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit):
        run_gad(monkeypatch, "predict", "--help")
    out = capsys.readouterr().out
    image_mode = out.split("Image mode")[1].split("Dataset mode")[0]
    for option in ("--images", "--references", "--calibration", "--fpr", "--threshold", "--output"):
        assert option in image_mode

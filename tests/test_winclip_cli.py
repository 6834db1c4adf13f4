"""WinCLIP through the gad command: tested directly from its quickstart config, zero-shot and few-shot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fixtures.cli import run_gad

CATEGORIES = ("gravel", "chelsea", "coins")


@pytest.mark.slow
@pytest.mark.parametrize("shots", [0, 4])
def test_quickstart_test_prints_the_table_without_any_fit(
    shots: int, in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    config = REPO / "configs" / "winclip_quickstart.yaml"
    run_gad(monkeypatch, "test", "-c", config, "--shots", str(shots), "--trainer.logger", "false")
    (folder,) = (in_tmp / "runs").iterdir()
    assert folder.name.endswith(f"_winclip_test_k{shots}_seed0")
    results = json.loads((folder / "results.json").read_text())
    assert results["shots"] == shots
    table = results["results"]["quickstart"]
    assert set(table) == {*CATEGORIES, "mean"}
    for metric in ("image_auroc", "pixel_auroc", "pixel_ap"):
        assert table["mean"][metric] == pytest.approx(sum(table[c][metric] for c in CATEGORIES) / 3)
    out = capsys.readouterr().out
    assert all(category in out for category in CATEGORIES) and f"shots {shots}" in out

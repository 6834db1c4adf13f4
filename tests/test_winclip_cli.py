"""WinCLIP through the gad command (tested directly from its quickstart config, zero- and few-shot) and its speed
benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_benchmarks import load, rows
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


@pytest.mark.slow
def test_speed_benchmark_times_windows_and_inference_beside_the_backbone(capsys: pytest.CaptureFixture) -> None:
    speed = load("speed")
    tiny = ["--clip", "gad-tiny-vit", "--layers", "4", "--image-size", "64", "--shots", "0", "2", "--batch", "2"]
    speed.main(["winclip", *tiny, "--repeats", "1", "--threads", "1"])
    output = capsys.readouterr().out
    timed = [row for row in rows(output, "inference") if "set_references" not in row[1]]
    assert [row[1] for row in timed] == ["K=0, batch 1", "K=0, batch 2", "K=2, batch 1", "K=2, batch 2"]
    assert all(float(row[6]) > 0 and float(row[7]) > 0 for row in timed)  # ratios to the backbone alongside
    windows = rows(output, "windows")
    assert [row[1].split(":")[0] for row in windows] == ["2x2 windows"] * 2 + ["3x3 windows"] * 2
    assert "all 49 per image in one pass" in windows[0][1] and float(windows[0][6]) > 0
    assert not rows(output, "train") and not rows(output, "data")  # nothing to train

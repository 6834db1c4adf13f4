"""The speed benchmark harness runs end to end on CPU with tiny models, through the same code paths as on a GPU
(autocast, peak-memory measurement, device placement). No timing is asserted: only that every part is measured
and that the fast lookup agrees with the sort-based one."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_autocast_and_peak_memory_on_cpu() -> None:
    harness = load("harness")
    device = torch.device("cpu")
    x = torch.randn(8, 8)
    with harness.autocast(device, "bf16"):
        assert (x @ x).dtype == torch.bfloat16
    with harness.autocast(device, "fp32"):
        assert (x @ x).dtype == torch.float32
    with harness.PeakMemory(device) as small:
        torch.ones(1000).sum()
    with harness.PeakMemory(device) as large:
        torch.ones(64 * 2**20, dtype=torch.uint8).add_(1)  # 64 MiB touched
    if small.bytes is not None:  # Linux: the resident-set peak can be reset
        assert large.bytes is not None and large.bytes >= small.bytes + 48 * 2**20
    timing = harness.time_calls(lambda: x @ x, device, repeats=3)
    assert 0 < timing.best <= timing.median


def rows(output: str, part: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("|")] for line in output.splitlines() if line.startswith(part + " |")]


def test_dictas_every_part_runs_in_bf16(capsys: pytest.CaptureFixture[str]) -> None:
    speed = load("speed")
    speed.main(
        [
            "dictas",
            "--clip",
            "gad-tiny-vit",
            "--layers",
            "2",
            "4",
            "--image-size",
            "112",
            "--shots",
            "1",
            "3",
            "--batch",
            "2",
            "--train-batch",
            "2",
            "--precision",
            "bf16",
            "--repeats",
            "1",
            "--sparsemax-topk",
            "8",
            "--threads",
            "1",
            "--data-side",
            "160",
            "--data-files",
            "2",
            "--data-samples",
            "4",
            "--data-batch",
            "2",
            "--workers",
            "0",
            "1",
        ]
    )
    output = capsys.readouterr().out
    backbone, inference = rows(output, "backbone"), rows(output, "inference")
    assert len(backbone) == 3  # batch 1, batch 2 and with the embedding
    timed = [row for row in inference if "set_references" not in row[1]]
    assert [row[1] for row in timed] == ["K=1, batch 1", "K=1, batch 2", "K=3, batch 1", "K=3, batch 2"]
    assert all(
        float(row[6]) > 0 and float(row[7]) > 0 and float(row[5]) > 0 and "top-k exact on" in row[9] for row in timed
    )
    train = rows(output, "train")
    assert len(train) == 2 and float(train[1][6]) > 0
    assert len(rows(output, "generators")) == 2
    lookup = rows(output, "lookup")
    assert len(lookup) == 4
    for row in lookup[1::2]:
        assert float(re.search(r"difference ([0-9.e+-]+)", row[9]).group(1)) < 1e-4
    data = rows(output, "data")
    assert [row[1].split(", ")[1] for row in data] == [
        "0 workers (1 support image(s) each)",
        "1 workers (1 support image(s) each)",
    ]
    assert all(float(row[3]) > 0 for row in data)


def test_inctrl_inference_training_and_data(capsys: pytest.CaptureFixture[str]) -> None:
    speed = load("speed")
    speed.main(
        [
            "inctrl",
            "--clip",
            "gad-tiny-vit",
            "--layers",
            "2",
            "3",
            "--image-size",
            "112",
            "--shots",
            "2",
            "--train-batch",
            "2",
            "--repeats",
            "1",
            "--parts",
            "inference",
            "train",
            "data",
            "lookup",
            "--threads",
            "1",
            "--data-side",
            "160",
            "--data-files",
            "4",
            "--data-samples",
            "4",
            "--data-batch",
            "2",
            "--workers",
            "0",
        ]
    )
    output = capsys.readouterr().out
    assert [row[1] for row in rows(output, "inference")] == ["K=2: set_references (once per category)", "K=2, batch 1"]
    assert len(rows(output, "train")) == 2 and len(rows(output, "data")) == 1
    assert not rows(output, "lookup")  # InCTRL has no dictionary lookup


@pytest.mark.slow
def test_preprocessing_benchmark_prints_both_paths(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    benchmark = load("preprocessing")
    monkeypatch.setattr(sys, "argv", ["preprocessing.py", "--count", "1", "--repeats", "1"])
    benchmark.main()
    lines = capsys.readouterr().out.splitlines()
    assert (
        sum("new (PIL)" in line for line in lines) == sum("old (cv2)" in line for line in lines) == len(benchmark.CASES)
    )
    differences = [float(line.split()[-1]) for line in lines if "old (cv2)" in line]
    assert all(d > 0 for d in differences)  # the two paths really differ


def test_inctrl_synthetic_benchmark_never_tests_on_a_trained_defect(quickstart_root: Path, tmp_path: Path) -> None:
    """The real-anomaly arm trains on half A of the auxiliary test images; both arms are tested on half B."""
    from gad.data.sources import MetaJson

    benchmark = load("inctrl_synthetic")
    train_meta, eval_meta = benchmark.split_meta(quickstart_root, tmp_path, seed=0)
    train = MetaJson(str(quickstart_root), meta=str(train_meta)).samples()
    evaluated = MetaJson(str(quickstart_root), meta=str(eval_meta)).samples()
    tested = evaluated[evaluated["split"] == "test"]
    assert set(train["category"]) == set(tested["category"]) == {"brick", "grass", "coffee"}
    assert not set(tested["path"]) & set(train["path"])
    assert (train.loc[train["split"] == "test", "label"] == 1).all()  # A's anomalies: the labelled ones
    per_category = train[train["label"] == 1].groupby("category").size().tolist()
    assert per_category == [6, 6, 6] and tested.groupby(["category", "label"]).size().tolist() == [3, 6] * 3
    assert set(evaluated.loc[evaluated["split"] == "train", "path"]) < set(train.loc[train["split"] == "train", "path"])

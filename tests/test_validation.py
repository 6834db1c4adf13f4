"""Input validation up front: bad values are refused with one line, before a model is loaded or an image scored."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gad.cli.config_checks import check_accelerator, check_config_files
from gad.output_paths import check_writable
from gad.errors import ConfigError
from gad.inference.inputs import ImageInputError, load_images
from gad.inference.threshold import threshold_at_fpr
from tests.conftest import REPO
from tests.fixtures.cli import gad_error

QUICKSTART = str(REPO / "configs" / "quickstart.yaml")


# ----- NaN and inf ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "image",
    [
        np.full((8, 8, 3), np.nan, dtype=np.float32),
        np.where(np.arange(8 * 8 * 3).reshape(8, 8, 3) == 5, np.nan, 0.5).astype(np.float32),
        torch.full((3, 8, 8), float("nan")),
        torch.full((3, 8, 8), 0.5).index_put_(
            (torch.tensor(0), torch.tensor(1), torch.tensor(2)), torch.tensor(math.inf)
        ),
        np.full((8, 8), -np.inf, dtype=np.float64),
    ],
    ids=["all_nan_array", "one_nan_array", "nan_tensor", "inf_tensor", "minus_inf_gray"],
)
def test_nan_and_inf_images_are_refused(image: np.ndarray | torch.Tensor) -> None:
    with pytest.raises(ImageInputError, match=r"images\[0\]: \d+ of \d+ values are NaN or infinite"):
        load_images([image], "images")


def test_finite_float_images_are_still_accepted() -> None:
    (loaded,) = load_images(np.full((8, 8, 3), 0.5, dtype=np.float32), "images")
    assert loaded.pixels.dtype == np.uint8 and int(loaded.pixels[0, 0, 0]) == 128


@pytest.mark.slow
def test_detector_refuses_an_all_nan_image(dictas_checkpoint: Path, quickstart_root: Path) -> None:
    from gad.inference import Detector

    detector = Detector.from_checkpoint(dictas_checkpoint, device="cpu")
    detector.set_references(quickstart_root / "gravel" / "train" / "good", "gravel")
    with pytest.raises(ImageInputError, match="NaN or infinite"):
        detector.predict(torch.full((3, 128, 128), float("nan")))


# ----- threshold and --fpr ----------------------------------------------------------------------------------
def test_too_few_calibration_normals_warn() -> None:
    with pytest.warns(
        UserWarning, match=r"6 held-out normal images are too few for a false-positive rate of 0.1.*1 in 7"
    ):
        chosen = threshold_at_fpr([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 0.1)
    assert chosen.value == 0.6


def test_enough_calibration_normals_do_not_warn(recwarn: pytest.WarningsRecorder) -> None:
    assert threshold_at_fpr(np.arange(10) / 10, 0.1).value == pytest.approx(0.8)
    assert not [w for w in recwarn if "too few" in str(w.message)]


@pytest.mark.parametrize("fpr", [2.0, 1.0, -0.1, math.nan])
def test_threshold_at_fpr_refuses_rates_outside_the_unit_interval(fpr: float) -> None:
    with pytest.raises(ConfigError, match="fpr must be a share"):
        threshold_at_fpr([0.1, 0.2], fpr)


@pytest.mark.slow
def test_detector_checks_fpr_before_scoring(
    dictas_checkpoint: Path, quickstart_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gad.inference import Detector

    detector = Detector.from_checkpoint(dictas_checkpoint, device="cpu")
    monkeypatch.setattr(Detector, "_predict", lambda *a, **k: pytest.fail("images were scored"))
    with pytest.raises(ConfigError, match="fpr must be a share"):
        detector.calibrate(quickstart_root / "gravel" / "test" / "good", fpr=2)


def _predict_args(quickstart_root: Path, tmp_path: Path, *extra: str) -> list[str]:
    """``gad predict`` with a checkpoint that does not exist: an error about anything else proves that the
    arguments were refused before the model was loaded."""
    good = str(quickstart_root / "gravel" / "train" / "good")
    return [
        "predict",
        "--ckpt_path",
        str(tmp_path / "never_loaded.ckpt"),
        "--references",
        good,
        "--images",
        good,
        "--progress",
        "false",
        *extra,
    ]


def test_fpr_without_calibration_is_refused(
    quickstart_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = gad_error(
        monkeypatch, *_predict_args(quickstart_root, tmp_path, "--fpr", "0.05", "--output", str(tmp_path / "o"))
    )
    assert line.startswith("gad predict: error: --fpr is the share of the --calibration images")


def test_fpr_outside_unit_interval_is_refused_before_loading(
    quickstart_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held_out = str(quickstart_root / "gravel" / "test" / "good")
    line = gad_error(monkeypatch, *_predict_args(quickstart_root, tmp_path, "--calibration", held_out, "--fpr", "2"))
    assert line == "gad predict: error: --fpr must be a share of normal images in [0, 1) (e.g. 0.01 for 1 %), got 2.0."


def test_missing_calibration_folder_is_refused_before_loading(
    quickstart_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = gad_error(monkeypatch, *_predict_args(quickstart_root, tmp_path, "--calibration", str(tmp_path / "none")))
    assert "--calibration" in line and "does not exist" in line


def test_infinite_threshold_is_refused(quickstart_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    line = gad_error(monkeypatch, *_predict_args(quickstart_root, tmp_path, "--threshold", "1e999"))
    assert "--threshold must be a finite score" in line


# ----- output folders ---------------------------------------------------------------------------------------
def test_predict_output_under_a_file_is_refused_before_loading(
    quickstart_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a_file").write_text("x")
    line = gad_error(
        monkeypatch, *_predict_args(quickstart_root, tmp_path, "--output", str(tmp_path / "a_file" / "out"))
    )
    assert line == (
        f"gad predict: error: --output {tmp_path / 'a_file' / 'out'}: {tmp_path / 'a_file'} is a file, "
        "so no folder can be created under it."
    )


def test_export_output_under_a_file_is_refused_before_loading(
    quickstart_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a_file").write_text("x")
    good = str(quickstart_root / "gravel" / "train" / "good")
    line = gad_error(
        monkeypatch,
        "export",
        "--ckpt_path",
        str(tmp_path / "never_loaded.ckpt"),
        "--references",
        good,
        "--output",
        str(tmp_path / "a_file" / "model.onnx"),
    )
    assert line.startswith("gad export: error: --output") and "is a file, so no folder can be created" in line


def test_benchmark_folder_that_is_a_file_is_refused_before_testing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "benchmark").write_text("x")
    monkeypatch.setattr("gad.cli.benchmark_command.run_lightning", lambda args: pytest.fail("a test was run"))
    line = gad_error(monkeypatch, "benchmark", "--run", str(run), "--shots", "1", "--seeds", "0")
    assert line == f"gad benchmark: error: --run {run / 'benchmark'}: expected a folder, but it is an existing file."


def test_writable_outputs_pass_and_create_nothing(tmp_path: Path) -> None:
    check_writable(tmp_path / "new" / "deeper", "--output", "folder")
    check_writable(tmp_path / "new" / "model.onnx", "--output", "file")
    assert not (tmp_path / "new").exists()
    (tmp_path / "folder.onnx").mkdir()
    with pytest.raises(ConfigError, match="expected a file name, but it is an existing folder"):
        check_writable(tmp_path / "folder.onnx", "--output", "file")


# ----- fit settings -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shots", ["0", "-2"])
def test_fit_with_no_shots_is_refused_before_training(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, shots: str
) -> None:
    line = gad_error(monkeypatch, "fit", "--config", QUICKSTART, "--shots", shots, "--trainer.logger", "false")
    expected = {
        "0": "gad: error: --shots 0: DictAS needs at least 1 normal reference image(s) per category (data.shots >= 1).",
        "-2": "gad: error: data.shots (--shots) must be 0 or more normal references per category, got -2",
    }
    assert line == expected[shots]  # K = 0 is refused by the method's contract, K < 0 by the datamodule
    assert not list(in_tmp.glob("runs/*/checkpoints/*.ckpt")) and not list(in_tmp.glob("runs/*/config.yaml"))


def test_benchmark_refuses_negative_shots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gad.cli.benchmark_command.run_lightning", lambda args: pytest.fail("a test was run"))
    assert "--shots: every number of references must be at least 0" in gad_error(
        monkeypatch, "benchmark", "--run", "somewhere", "--shots", "2", "-1", "--seeds", "0"
    )


def test_gpu_accelerator_without_a_gpu_is_one_line(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    line = gad_error(
        monkeypatch, "fit", "--config", QUICKSTART, "--trainer.accelerator", "gpu", "--trainer.logger", "false"
    )
    assert line.startswith("gad: error: --trainer.accelerator gpu: no GPU is visible here")
    assert "--trainer.accelerator cpu" in line


def test_more_gpus_than_visible_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match="--trainer.devices 2: only 1 GPUs are visible"):
        check_accelerator("cuda", 2)
    check_accelerator("cuda", 1)
    check_accelerator("cpu", 8)


# ----- config files -----------------------------------------------------------------------------------------
def test_invalid_yaml_names_the_file_line_and_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  class_path: x\n   bad: [1, 2\n")
    line = gad_error(monkeypatch, "test", "--config", QUICKSTART, f"--config={bad}")
    assert line == f"gad: error: --config {bad}: invalid YAML at line 3, column 7: mapping values are not allowed here."


def test_config_that_is_not_a_mapping_or_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    assert "expected a mapping of settings" in gad_error(monkeypatch, "fit", "-c", str(listed))
    assert (
        gad_error(monkeypatch, "fit", "-c", str(tmp_path / "none.yaml"))
        == f"gad: error: --config {tmp_path / 'none.yaml'}: no such file."
    )


def test_benchmark_checks_target_configs_before_testing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "run").mkdir()
    bad = tmp_path / "target.yaml"
    bad.write_text("data: [1\n")
    monkeypatch.setattr("gad.cli.benchmark_command.run_lightning", lambda args: pytest.fail("a test was run"))
    line = gad_error(
        monkeypatch,
        "benchmark",
        "--run",
        str(tmp_path / "run"),
        "--shots",
        "1",
        "--seeds",
        "0",
        "--targets",
        str(QUICKSTART),
        str(bad),
    )
    assert line.startswith(f"gad benchmark: error: --config {bad}: invalid YAML at line 2, column 1")


def test_inline_config_is_left_to_jsonargparse() -> None:
    check_config_files(["{trainer: {max_epochs: 1}}"])
    with pytest.raises(ConfigError, match="no such file"):
        check_config_files(["trainer.yaml"])

"""``gad predict --references --images``: maps, overlays and scores for a folder of images, and one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from gad.data.references import ReferenceSet
from gad.inference.outputs import PNG16_SCALE, read_map
from tests.fixtures.cli import run_gad


@pytest.mark.slow
def test_predict_writes_maps_overlays_and_scores(
    dictas_checkpoint: Path,
    quickstart_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    good = sorted((quickstart_root / "gravel" / "train" / "good").glob("*.png"))
    queries = str(quickstart_root / "gravel" / "test" / "*" / "*.png")
    count = len(list((quickstart_root / "gravel" / "test").glob("*/*.png")))
    run_gad(
        monkeypatch,
        "predict",
        "--ckpt_path",
        str(dictas_checkpoint),
        "--references",
        *map(str, good[:4]),
        "--category",
        "gravel",
        "--images",
        queries,
        "--calibration",
        *map(str, good[4:]),
        "--fpr",
        "0.25",
        "--output",
        str(tmp_path / "npy"),
        "--progress",
        "false",
    )
    out = tmp_path / "npy"
    assert f"{count} images scored" in capsys.readouterr().out
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert len(rows) == count and {"image", "score", "anomalous", "map", "overlay"} <= set(rows[0])
    summary = json.loads((out / "scores.json").read_text())
    threshold = summary["threshold"]["value"]
    assert summary["threshold"]["fpr"] == 0.25 and summary["category"] == "gravel" and len(summary["references"]) == 4
    assert all((row["anomalous"] == "True") == (float(row["score"]) > threshold) for row in rows)
    # predicted masks at the pixel threshold (1 % of the calibration normals' pixels), one per image
    pixel_threshold = summary["pixel_threshold"]["value"]
    calibrated = summary["pixel_threshold"]  # from every pixel of the 12 calibration images' maps
    assert calibrated["fpr"] == 0.01 and calibrated["normals"] % (len(good) - 4) == 0 and calibrated["normals"] > 10**4
    for row in rows[:3]:
        mask = cv2.imread(str(out / row["mask"]), cv2.IMREAD_UNCHANGED)
        assert set(np.unique(mask)) <= {0, 255}
        assert np.array_equal(mask > 0, np.load(out / row["map"]) > pixel_threshold)
    # labels from the folder names (test/good normal, test/<defect> anomalous): the confusion matrix at the threshold
    flagged = [row["anomalous"] == "True" for row in rows]
    anomalous = [row["label"] == "1" for row in rows]
    assert {row["defect"] for row in rows if row["label"] == "0"} == {"good"} and sum(anomalous) == count - 6
    evaluation = summary["evaluation"]
    true_positive = sum(f and a for f, a in zip(flagged, anomalous))
    assert evaluation["confusion"]["true_positive"] == true_positive
    assert evaluation["confusion"]["false_positive"] == sum(f and not a for f, a in zip(flagged, anomalous))
    assert evaluation["recall"] == pytest.approx(true_positive / sum(anomalous))
    # test/hole/000.png and test/scratch/000.png keep their sub-folders
    assert (out / "maps" / "hole" / "000.npy").is_file() and (out / "maps" / "scratch" / "000.npy").is_file()
    assert len(list((out / "overlays").glob("*/*.png"))) == count
    overlay = cv2.imread(str(out / rows[0]["overlay"]))
    image = cv2.imread(rows[0]["image"])
    assert overlay.shape == image.shape and not np.array_equal(overlay, image)

    # references from a run's manifest give the same scores; 16-bit PNG maps within one step of 1/65535
    expected_map = read_map(out / rows[0]["map"])
    assert expected_map.shape == image.shape[:2] and expected_map.dtype == np.float32
    root = quickstart_root.parent
    manifest = ReferenceSet(
        "quickstart", str(root), 4, None, {"gravel": [p.relative_to(root).as_posix() for p in good[:4]]}
    )
    manifest_path = manifest.save(tmp_path / "references.json")
    run_gad(
        monkeypatch,
        "predict",
        "--ckpt_path",
        str(dictas_checkpoint),
        "--references",
        str(manifest_path),
        "--images",
        rows[0]["image"],
        "--map_format",
        "png16",
        "--output",
        str(tmp_path / "png"),
        "--progress",
        "false",
    )
    (row,) = json.loads((tmp_path / "png" / "scores.json").read_text())["images"]
    assert row["score"] == pytest.approx(float(rows[0]["score"]), abs=1e-6) and "anomalous" not in row
    png = cv2.imread(str(tmp_path / "png" / row["map"]), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16
    np.testing.assert_allclose(png / PNG16_SCALE, expected_map, atol=1 / PNG16_SCALE)


@pytest.mark.slow
def test_predict_errors_are_one_line(
    dictas_checkpoint: Path, quickstart_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = str(quickstart_root / "gravel" / "train" / "good")
    (tmp_path / "empty").mkdir()
    cases = {
        ("--references", str(tmp_path / "empty"), "--images", good): "holds no image",
        ("--references", good, "--images", str(tmp_path / "nowhere")): "does not exist",
        ("--references", good, "--images", good, "--threshold", "0.5", "--calibration", good): "not both",
    }
    for args, message in cases.items():
        with pytest.raises(SystemExit) as exit_info:
            run_gad(
                monkeypatch, "predict", "--ckpt_path", str(dictas_checkpoint), *args, "--output", str(tmp_path / "o")
            )
        assert str(exit_info.value.code).startswith("gad predict: error:") and message in str(exit_info.value.code)
    with pytest.raises(SystemExit) as exit_info:
        run_gad(
            monkeypatch, "predict", "--ckpt_path", str(tmp_path / "none.ckpt"), "--references", good, "--images", good
        )
    assert "does not exist" in str(exit_info.value.code)

"""The visual test report: every test image once, by score; every file it names exists; its curves' areas are the
reported AUROC and AP (checked against scikit-learn); thresholds come from held-out normals."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from gad.data.batch import Batch
from gad.inference.threshold import Threshold, Thresholds
from gad.report.records import TestRecords
from gad.report.writer import write_report
from tests.fixtures.cli import run_gad


class _Page(HTMLParser):
    """Sections (``h3`` ids) with their figures' paths and scores, and every ``src``/``href`` of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[tuple[str, float]]] = {}
        self.links: list[str] = []
        self.lazy: list[bool] = []
        self._section = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "h3" and values.get("id"):
            self._section = str(values["id"])
            self.sections[self._section] = []
        if tag == "figure":
            self.sections[self._section].append((str(values["data-path"]), float(str(values["data-score"]))))
        if tag == "img" and "thumbs/" in str(values.get("src")):
            self.lazy.append(values.get("loading") == "lazy")
        for key in ("src", "href"):
            link = values.get(key)
            if link and not link.startswith("#"):
                self.links.append(link)


def _check_report(folder: Path, expected_paths: list[str]) -> dict:
    """The report in ``folder``: each expected image once per page, by score, files present, areas exact."""
    root = folder / "report"
    page = _Page()
    page.feed((root / "report.html").read_text())
    shown = [path for figures in page.sections.values() for path, _ in figures]
    assert sorted(shown) == sorted(expected_paths)  # every test image, once
    for figures in page.sections.values():
        scores = [score for _, score in figures]
        assert scores == sorted(scores, reverse=True) and len(figures) > 1
    assert page.lazy and all(page.lazy)
    assert page.links and all((root / link).is_file() for link in page.links)
    content = json.loads((root / "report.json").read_text())
    for dataset in content["datasets"].values():
        for section in dataset["categories"].values():
            for image in section["images"]:
                assert (root / image["panel"]).is_file() and (root / image["thumbnail"]).is_file()
            assert (root / section["plot"]).is_file()
    return content


def _curve_areas(section: dict) -> tuple[float, float]:
    """AUROC and AP recomputed from the curve points the plots show (trapezoid; step sum)."""
    roc, pr = section["curves"]["roc"], section["curves"]["pr"]
    auroc = float(np.trapezoid(roc["tpr"], roc["fpr"]))
    ap = float(np.sum(np.diff(pr["recall"]) * np.array(pr["precision"][1:])))
    return auroc, ap


def _batch(category: str, defects: list[str], scores: list[float], side: int = 16) -> tuple[Batch, torch.Tensor]:
    labels = torch.tensor([0 if d == "good" else 1 for d in defects])
    masks = torch.zeros(len(defects), 1, side, side)
    masks[labels > 0, :, 4:9, 4:9] = 1
    batch = Batch(
        image=torch.rand(len(defects), 3, side, side),
        label=labels,
        mask=masks,
        category=[category] * len(defects),
        defect=defects,
        path=[f"/data/{category}/test/{d}/{defects[:i].count(d):03d}.png" for i, d in enumerate(defects)],
    )
    return batch, torch.tensor(scores)


def test_report_of_records_is_complete_ordered_and_exact(tmp_path: Path) -> None:
    records = TestRecords(side=16)
    defects = ["good", "good", "good", "hole", "scratch", "hole", "scratch"]
    scores = [0.1, 0.35, 0.2, 0.9, 0.3, 0.4, 0.6]
    batch, score = _batch("screw", defects, scores)
    records.update("set", batch, score, torch.rand(len(defects), 1, 16, 16))
    thresholds = {"set": {"screw": Thresholds(Threshold(0.35, 0.1, 10), Threshold(0.5, 0.01, 10))}}
    results = {"set": {"screw": {"image_auroc": 0.9, "image_ap": 0.9}}}
    write_report(records.by_dataset, results, thresholds, tmp_path, "title", {})
    content = _check_report(tmp_path, batch.path)
    section = content["datasets"]["set"]["categories"]["screw"]
    labels = [int(d != "good") for d in defects]
    auroc, ap = _curve_areas(section)
    assert auroc == pytest.approx(roc_auc_score(labels, scores)) == pytest.approx(section["curves"]["auroc"])
    assert ap == pytest.approx(average_precision_score(labels, scores))
    # "hole" and "scratch" share a file name: their panels differ and name category, defect and score
    panels = [image["panel"] for image in section["images"]]
    assert len(set(panels)) == len(panels) and {"screw_hole_000_s0.9000", "screw_scratch_000_s0.3000"} <= {
        Path(p).stem for p in panels
    }
    # at the threshold 0.35 (score > it): 0.9, 0.4, 0.6 flagged; the 0.3 scratch missed
    at = section["at_threshold"]
    assert at["confusion"] == {"true_positive": 3, "false_positive": 0, "false_negative": 1, "true_negative": 3}
    assert at["precision"] == 1.0 and at["recall"] == 0.75
    by_defect = {row["defect"]: row for row in content["datasets"]["set"]["defects"]}
    assert by_defect["hole"]["image_auroc"] == pytest.approx(roc_auc_score([0, 0, 0, 1, 1], [0.1, 0.35, 0.2, 0.9, 0.4]))
    assert by_defect["scratch"]["flagged"] == 0.5 and by_defect["good"]["flagged"] == 0.0


def test_category_and_dataset_names_cannot_lead_files_out_of_the_report(tmp_path: Path) -> None:
    """Names come from data (a meta.json's keys, a config's name): ``..`` and ``/`` must not become folders, and
    two names that clean to the same text keep distinct files."""
    records = TestRecords(side=16)
    for category in ("../../../escaped", "a b", "a?b"):
        batch, score = _batch(category, ["good", "hole"], [0.2, 0.8])
        records.update("../set", batch, score, torch.rand(2, 1, 16, 16))
    out = tmp_path / "out"
    files = write_report(records.by_dataset, {}, {}, out, "title", {})
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(p.resolve().is_relative_to((out / "report").resolve()) for p in written)
    assert len(files.curves) == 3 and len(set(files.curves.values())) == 3
    assert len({path for _, path in files.panels}) == 6


@pytest.mark.slow  # a gad test of a trained quickstart run
def test_gad_test_writes_the_report(
    in_tmp: Path, dictas_checkpoint: Path, quickstart_root: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    run = dictas_checkpoint.parent.parent
    argv = ["test", "--run", str(run), "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
    argv += ["--data.init_args.target.init_args.categories", "[coins]", "--results.image_fpr", "0.1"]
    run_gad(monkeypatch, *argv)
    out = capsys.readouterr().out
    folder = Path(re.search(r"gad: report written to (\S+) ", out).group(1)).parent.parent
    expected = sorted(
        f"data/quickstart/coins/test/{p.parent.name}/{p.name}"
        for p in (quickstart_root / "coins" / "test").glob("*/*.png")
    )
    content = _check_report(folder, expected)
    results = json.loads((folder / "results.json").read_text())["results"]["quickstart"]["coins"]
    section = content["datasets"]["quickstart"]["categories"]["coins"]
    scores = [image["score"] for image in section["images"]]
    labels = [image["label"] for image in section["images"]]
    assert sorted(labels) == sorted(int("/good/" not in p) for p in expected)
    auroc, ap = _curve_areas(section)
    assert auroc == pytest.approx(results["image_auroc"], abs=1e-6) == pytest.approx(roc_auc_score(labels, scores))
    assert ap == pytest.approx(results["image_ap"], abs=1e-6) == pytest.approx(average_precision_score(labels, scores))
    # thresholds from 8 held-out normals (--results.calibration: 8 of the 16 training normals that are not among
    # the 4 references), never test images; 8 are too few for FPR 0.1 (10 needed): the report and the console say so
    image = section["thresholds"]["image"]
    assert image["normals"] == 8 and image["fpr"] == 0.1 and image["too_few_normals"]
    assert "too few for a false-positive rate of 0.1 (at least 10 needed" in out
    assert section["thresholds"]["pixel"]["value"] > 0


def test_labels_come_from_folder_names_only_when_a_normal_folder_is_there() -> None:
    from gad.inference.outputs import folder_labels

    assert folder_labels(["t/good/0.png", "t/hole/0.png", "t/Normal/1.png"]) == [(0, "good"), (1, "hole"), (0, "good")]
    assert folder_labels(["line/0.png", "line/1.png"]) is None  # no normal folder: labels unknown
    assert folder_labels(["image 0", "image 1"]) is None  # in-memory images have no folder


def test_too_few_normals_says_the_threshold_is_their_maximum_and_how_many_are_needed() -> None:
    from gad.inference.threshold import threshold_at_fpr, too_few_normals_message

    chosen = threshold_at_fpr([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 0.1, warn=False)
    assert chosen.value == 0.6 and chosen.too_few_normals and chosen.needed == 10
    message = too_few_normals_message(chosen)
    assert "6 held-out normal images are too few" in message and "highest score (0.6)" in message
    assert "at least 10 normal images" in message
    assert not threshold_at_fpr(list(range(10)), 0.1, warn=False).too_few_normals

"""Few-shot reference sampler: deterministic draws, manifests in and out, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from gad.data.reference_formats import load_references
from gad.data.references import ReferenceSelectionError, draw_references, normal_pool
from gad.data.sources import QuickstartData


@pytest.fixture(scope="module")
def samples(quickstart_root: Path) -> pd.DataFrame:
    return QuickstartData(str(quickstart_root), ["gravel", "coins"]).samples()


def test_draw_is_deterministic_without_replacement_from_normal_training_images(samples, quickstart_root) -> None:
    first = draw_references(samples, "quickstart", quickstart_root, shots=8, seed=3)
    again = draw_references(samples, "quickstart", quickstart_root, shots=8, seed=3)
    assert first.references == again.references
    assert set(first.references) == {"gravel", "coins"}
    for category, chosen in first.references.items():
        assert len(set(chosen)) == 8
        pool = {str(Path(p).relative_to(quickstart_root)) for p in normal_pool(samples, category)}
        assert set(chosen) <= pool
        assert all(rel.startswith(f"{category}/train/good/") for rel in chosen)


def test_draw_depends_on_seed_shots_and_category(samples, quickstart_root) -> None:
    base = draw_references(samples, "quickstart", quickstart_root, shots=4, seed=0).references
    other_seed = draw_references(samples, "quickstart", quickstart_root, shots=4, seed=1).references
    other_name = draw_references(samples, "elsewhere", quickstart_root, shots=4, seed=0).references
    assert base != other_seed and base != other_name
    assert base["gravel"] != [p.replace("coins", "gravel") for p in base["coins"]]


def test_draw_is_independent_of_row_order(samples, quickstart_root) -> None:
    shuffled = samples.sample(frac=1.0, random_state=0)
    assert (
        draw_references(shuffled, "q", quickstart_root, 4, 0).references
        == draw_references(samples, "q", quickstart_root, 4, 0).references
    )


def test_too_many_shots_is_a_clear_error(samples, quickstart_root) -> None:
    with pytest.raises(ReferenceSelectionError, match=r"only 16 normal training images.*--shots 17"):
        draw_references(samples, "quickstart", quickstart_root, shots=17, seed=0)


def test_manifest_round_trip(samples, quickstart_root, tmp_path) -> None:
    drawn = draw_references(samples, "quickstart", quickstart_root, shots=2, seed=5)
    path = drawn.save(tmp_path / "refs.json")
    assert json.loads(path.read_text())["version"] == 2
    loaded = load_references(path, samples, "quickstart", quickstart_root, shots=2)
    assert loaded.references == drawn.references
    assert loaded.paths("coins")[0].is_file()


def test_text_list_and_per_k_folder(samples, quickstart_root, tmp_path) -> None:
    drawn = draw_references(samples, "quickstart", quickstart_root, shots=2, seed=5)
    lines = [
        "# published list",
        *drawn.references["gravel"],
        str(quickstart_root / drawn.references["coins"][0]),
        drawn.references["coins"][1],
    ]
    (tmp_path / "k2.txt").write_text("\n".join(lines) + "\n")
    loaded = load_references(tmp_path, samples, "quickstart", quickstart_root, shots=2)
    assert loaded.references == drawn.references


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (
            {"references": {"gravel": ["gravel/train/good/000.png", "gravel/train/good/001.png"]}},
            "no references for category 'coins'",
        ),
        (
            {"references": {"gravel": ["gravel/train/good/000.png"], "coins": ["coins/train/good/000.png"]}},
            "--shots 2 needs 2",
        ),
        (
            {
                "references": {
                    "gravel": ["gravel/test/good/000.png", "gravel/train/good/001.png"],
                    "coins": ["coins/train/good/000.png", "coins/train/good/001.png"],
                }
            },
            "not normal training images",
        ),
        ({"refs": []}, "not a gad references file"),
        (["gravel/train/good/000.png"], "not a JSON object"),
        ({"version": 99, "references": {}}, "version 99"),
    ],
)
def test_bad_manifests(samples, quickstart_root, tmp_path, content, match) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ReferenceSelectionError, match=match):
        load_references(path, samples, "quickstart", quickstart_root, shots=2)


def test_missing_manifest_and_missing_k_file(samples, quickstart_root, tmp_path) -> None:
    with pytest.raises(ReferenceSelectionError, match="does not exist"):
        load_references(tmp_path / "nope.json", samples, "quickstart", quickstart_root, shots=2)
    with pytest.raises(ReferenceSelectionError, match="expected k4.json or k4.txt.*fix_4-shot.txt.*<category>.pt"):
        load_references(tmp_path, samples, "quickstart", quickstart_root, shots=4)

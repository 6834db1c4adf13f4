"""Tests for the scikit-image based quickstart dataset (gad.data.quickstart)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gad.data import quickstart
from gad.data.quickstart import (
    AUXILIARY_CATEGORIES,
    CATEGORIES,
    DEFECT_TYPES,
    MARKER_NAME,
    MIN_MASK_FRACTION,
    TARGET_CATEGORIES,
    defect_sample,
    draw_defect,
    ensure_quickstart,
    generate_quickstart,
    normal_image,
    normal_sample,
    source_image,
)

SMALL = {"image_size": 64, "n_train": 2, "n_test_good": 1, "n_test_per_defect": 1}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default dataset, generated once for the read-only tests."""
    return generate_quickstart(tmp_path_factory.mktemp("quickstart") / "data")


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def _files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_groups_are_disjoint_and_cover_all_categories() -> None:
    assert len(AUXILIARY_CATEGORIES) == len(TARGET_CATEGORIES) == 3
    assert not set(AUXILIARY_CATEGORIES) & set(TARGET_CATEGORIES)
    assert set(AUXILIARY_CATEGORIES) | set(TARGET_CATEGORIES) == set(CATEGORIES)


def test_layout_matches_mvtec(dataset: Path) -> None:
    assert sorted(p.name for p in dataset.iterdir() if p.is_dir()) == sorted(CATEGORIES)
    for category in CATEGORIES:
        base = dataset / category
        assert len(list((base / "train" / "good").glob("*.png"))) == 16
        assert len(list((base / "test" / "good").glob("*.png"))) == 6
        assert sorted(p.name for p in (base / "test").iterdir()) == sorted(("good", *DEFECT_TYPES))
        assert sorted(p.name for p in (base / "ground_truth").iterdir()) == sorted(DEFECT_TYPES)
        for kind in DEFECT_TYPES:
            images = sorted(p.stem for p in (base / "test" / kind).glob("*.png"))
            masks = sorted(p.stem for p in (base / "ground_truth" / kind).glob("*.png"))
            assert images == ["000", "001", "002"]
            assert masks == [f"{stem}_mask" for stem in images]


def test_images_are_rgb_and_masks_binary_aligned_in_size(dataset: Path) -> None:
    for image_path in dataset.glob("*/*/*/*.png"):
        if image_path.parts[-3] == "ground_truth":
            continue
        image = Image.open(image_path)
        assert image.mode == "RGB" and image.size == (128, 128), image_path
    for mask_path in dataset.glob("*/ground_truth/*/*_mask.png"):
        mask = _load(mask_path)
        image_path = mask_path.parents[2] / "test" / mask_path.parent.name / mask_path.name.replace("_mask", "")
        assert mask.dtype == np.uint8 and mask.ndim == 2, mask_path
        assert mask.shape == _load(image_path).shape[:2], mask_path
        assert set(np.unique(mask).tolist()) == {0, 255}, mask_path
        assert np.count_nonzero(mask) >= MIN_MASK_FRACTION * mask.size, mask_path


def test_files_on_disk_are_the_samples_and_masks_cover_the_change(dataset: Path) -> None:
    for category in CATEGORIES:
        assert np.array_equal(
            _load(dataset / category / "train/good/003.png"), normal_sample(category, "train/good", 3)
        )
        for kind in DEFECT_TYPES:
            clean, defective, mask = defect_sample(category, kind, 1)
            assert np.array_equal(_load(dataset / category / "test" / kind / "001.png"), defective)
            assert np.array_equal(_load(dataset / category / "ground_truth" / kind / "001_mask.png"), mask)
            _assert_change_matches_mask(clean, defective, mask)


@pytest.mark.parametrize("kind", DEFECT_TYPES)
@pytest.mark.parametrize("category", CATEGORIES)
def test_draw_defect_changes_exactly_the_masked_region(category: str, kind: str) -> None:
    donor = source_image("chelsea" if category != "chelsea" else "brick")
    for seed in range(5):
        rng = np.random.default_rng(seed)
        clean = normal_image(category, rng, 96)
        before = clean.copy()
        defective, mask = draw_defect(clean, kind, rng, donor)
        assert np.array_equal(clean, before), "draw_defect must not modify its input"
        assert defective.shape == clean.shape and defective.dtype == np.uint8
        _assert_change_matches_mask(clean, defective, mask)


def _assert_change_matches_mask(clean: np.ndarray, defective: np.ndarray, mask: np.ndarray) -> None:
    """Nothing changes outside the mask; inside, (almost) every pixel changes visibly."""
    assert mask.shape == clean.shape[:2]
    assert set(np.unique(mask).tolist()) <= {0, 255}
    inside = mask > 0
    assert inside.mean() >= MIN_MASK_FRACTION
    diff = np.abs(defective.astype(np.int16) - clean.astype(np.int16)).max(axis=2)
    assert not diff[~inside].any()
    assert (diff[inside] > 0).mean() > 0.9
    assert diff[inside].mean() > 8


def test_draw_defect_rejects_bad_arguments() -> None:
    image = normal_image("brick", np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown defect"):
        draw_defect(image, "crack", np.random.default_rng(0))
    with pytest.raises(ValueError, match="donor"):
        draw_defect(image, "patch", np.random.default_rng(0))
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        draw_defect(image.astype(np.float32), "hole", np.random.default_rng(0))


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first = _files(generate_quickstart(tmp_path / "a", seed=3, **SMALL))
    second = _files(generate_quickstart(tmp_path / "b", seed=3, **SMALL))
    other = _files(generate_quickstart(tmp_path / "c", seed=4, **SMALL))
    assert first == second
    assert first.keys() == other.keys()
    images = [name for name in first if name.endswith(".png")]
    assert all(first[name] != other[name] for name in images if "/train/" in name)


def test_marker_records_parameters(dataset: Path) -> None:
    marker = json.loads((dataset / MARKER_NAME).read_text())
    assert marker["params"] == {"seed": 0, "image_size": 128, "n_train": 16, "n_test_good": 6, "n_test_per_defect": 3}
    assert marker["format_version"] == quickstart.FORMAT_VERSION


def test_ensure_generates_then_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "data"
    assert ensure_quickstart(root, seed=1, **SMALL) == root.absolute()
    before = _files(root)

    def fail(*args: object, **kwargs: object) -> Path:
        raise AssertionError("ensure_quickstart regenerated an up-to-date dataset")

    monkeypatch.setattr(quickstart, "generate_quickstart", fail)
    assert ensure_quickstart(root, seed=1, **SMALL) == root.absolute()
    assert _files(root) == before


def test_ensure_refuses_parameter_mismatch(tmp_path: Path) -> None:
    root = generate_quickstart(tmp_path / "data", seed=1, **SMALL)
    before = _files(root)
    with pytest.raises(FileExistsError, match="seed: existing 1, requested 2") as error:
        ensure_quickstart(root, seed=2, **SMALL)
    assert str(root) in str(error.value) and "Delete" in str(error.value)
    assert _files(root) == before


def test_ensure_and_generate_refuse_a_foreign_folder(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="no .gad_quickstart.json marker"):
        ensure_quickstart(root, **SMALL)
    with pytest.raises(FileExistsError, match="already exists"):
        generate_quickstart(root, **SMALL)
    assert [p.name for p in root.iterdir()] == ["notes.txt"]
    assert (root / "notes.txt").read_text() == "user data"


def test_interrupted_generation_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def crash_on_second(params: object, category: str, root: Path) -> None:
        calls.append(category)
        if len(calls) == 2:
            raise KeyboardInterrupt
        root.mkdir(parents=True)

    monkeypatch.setattr(quickstart, "_write_category", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        generate_quickstart(tmp_path / "data", **SMALL)
    assert list(tmp_path.iterdir()) == []


def test_invalid_parameters_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="image_size"):
        generate_quickstart(tmp_path / "data", image_size=8)
    with pytest.raises(ValueError, match="n_train"):
        ensure_quickstart(tmp_path / "data", n_train=0)
    assert not (tmp_path / "data").exists()

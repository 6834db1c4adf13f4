"""A small, deterministic MVTec-AD-style dataset built from images shipped inside scikit-image.

It exists so that the whole pipeline (training on auxiliary categories, few-shot testing on target
categories) can be run end to end without downloading anything. Defects are drawn by hand-written
processes (scratches, stains, holes, foreign patches) that differ from the Perlin-noise / DRAEM style
synthesis commonly used at training time, so a model cannot score well merely by recognising its
own augmentation.

Layout written under ``ROOT`` (identical to MVTec AD)::

    ROOT/{category}/train/good/000.png
    ROOT/{category}/test/good/000.png
    ROOT/{category}/test/{defect}/000.png
    ROOT/{category}/ground_truth/{defect}/000_mask.png
    ROOT/.gad_quickstart.json
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from skimage import data as skdata

from gad.errors import GadError

__all__ = [
    "AUXILIARY_CATEGORIES",
    "CATEGORIES",
    "DEFECT_TYPES",
    "FORMAT_VERSION",
    "MARKER_NAME",
    "MIN_MASK_FRACTION",
    "QuickstartFolderError",
    "TARGET_CATEGORIES",
    "defect_sample",
    "draw_defect",
    "ensure_quickstart",
    "generate_quickstart",
    "normal_image",
    "normal_sample",
    "source_image",
]

# Each group mixes textures and objects so that both kinds are seen in training and in testing.
AUXILIARY_CATEGORIES: tuple[str, ...] = ("brick", "grass", "coffee")
TARGET_CATEGORIES: tuple[str, ...] = ("gravel", "chelsea", "coins")
CATEGORIES: tuple[str, ...] = AUXILIARY_CATEGORIES + TARGET_CATEGORIES
DEFECT_TYPES: tuple[str, ...] = ("scratch", "stain", "hole", "patch")


class QuickstartFolderError(GadError, FileExistsError):
    """The quickstart root holds something the generator did not make (or made with other parameters)."""


MARKER_NAME = ".gad_quickstart.json"
# Bump whenever a change would alter generated pixels, so stale datasets are detected.
FORMAT_VERSION = 1
MIN_MASK_FRACTION = 0.005
_MAX_DEFECT_ATTEMPTS = 50


@dataclass(frozen=True)
class _Texture:
    """A texture: normal views are random crops of ``crop_fraction`` of the source's shorter side."""

    loader: str
    crop_fraction: float = 0.5


@dataclass(frozen=True)
class _Object:
    """An object: normal views are a square of side ``side`` (source pixels) around ``(cx, cy)``."""

    loader: str
    cx: float
    cy: float
    side: float


_SPECS: dict[str, _Texture | _Object] = {
    "brick": _Texture("brick"),
    "grass": _Texture("grass"),
    "gravel": _Texture("gravel"),
    "coffee": _Object("coffee", cx=280, cy=200, side=360),
    "chelsea": _Object("chelsea", cx=230, cy=150, side=260),
    "coins": _Object("coins", cx=192, cy=151, side=270),
}


@dataclass(frozen=True)
class _Params:
    seed: int
    image_size: int
    n_train: int
    n_test_good: int
    n_test_per_defect: int

    def validate(self) -> None:
        """Reject values that would produce an unusable or non-reproducible dataset."""
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.image_size < 32:
            raise ValueError(f"image_size must be >= 32, got {self.image_size}")
        for name in ("n_train", "n_test_good", "n_test_per_defect"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


# ----------------------------------------------------------------------------- sources


@lru_cache(maxsize=None)
def source_image(category: str) -> np.ndarray:
    """The category's full-resolution source as read-only RGB uint8 (loaded from the skimage wheel)."""
    image = np.asarray(getattr(skdata, _spec(category).loader)(), dtype=np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    image = np.ascontiguousarray(image[:, :, :3])
    image.flags.writeable = False
    return image


@lru_cache(maxsize=None)
def _scaled_source(category: str, image_size: int) -> np.ndarray:
    """Source rescaled once so that one view spans ``image_size`` pixels (area shrinking avoids aliasing)."""
    spec = _spec(category)
    source = source_image(category)
    side = spec.crop_fraction * min(source.shape[:2]) if isinstance(spec, _Texture) else spec.side
    scale = image_size / side
    size = (round(source.shape[1] * scale), round(source.shape[0] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(source, size, interpolation=interpolation).astype(np.float32) / 255.0
    scaled.flags.writeable = False
    return scaled


def _spec(category: str) -> _Texture | _Object:
    try:
        return _SPECS[category]
    except KeyError:
        raise ValueError(f"unknown quickstart category {category!r}; known: {CATEGORIES}") from None


# ----------------------------------------------------------------------------- normal images


def normal_image(category: str, rng: np.random.Generator, image_size: int = 128) -> np.ndarray:
    """A defect-free RGB uint8 variation of the category's source (the 'good' class)."""
    spec = _spec(category)
    source = _scaled_source(category, image_size)
    if isinstance(spec, _Texture):
        view = _texture_view(source, rng, image_size)
    else:
        view = _object_view(source, spec, rng, image_size)
    return _to_uint8(view)


def _texture_view(source: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Random crop anywhere, random flip / 90-degree rotation, mild photometric jitter and noise."""
    y = int(rng.integers(0, source.shape[0] - size + 1))
    x = int(rng.integers(0, source.shape[1] - size + 1))
    view = source[y : y + size, x : x + size]
    if rng.random() < 0.5:
        view = view[:, ::-1]
    view = np.rot90(view, k=int(rng.integers(0, 4)))
    mean = float(view.mean())
    view = (view - mean) * rng.uniform(0.9, 1.1) + mean + rng.uniform(-0.04, 0.04)
    return view + rng.normal(0.0, 0.01, size=(size, size, 1)).astype(np.float32)


def _object_view(source: np.ndarray, spec: _Object, rng: np.random.Generator, size: int) -> np.ndarray:
    """Fixed framing with a small shift (±3%) and rotation (±5°), plus mild brightness jitter."""
    scale = size / spec.side
    cx = spec.cx * scale + rng.uniform(-0.03, 0.03) * size
    cy = spec.cy * scale + rng.uniform(-0.03, 0.03) * size
    matrix: np.ndarray = cv2.getRotationMatrix2D((cx, cy), float(rng.uniform(-5.0, 5.0)), 1.0)
    matrix[:, 2] += (size / 2 - cx, size / 2 - cy)
    view = cv2.warpAffine(source, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return view * rng.uniform(0.95, 1.05) + rng.uniform(-0.03, 0.03)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- defects


def draw_defect(
    image: np.ndarray, kind: str, rng: np.random.Generator, donor: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one ``kind`` defect on a copy of ``image`` (HxWx3 uint8).

    Returns ``(defective, mask)`` where ``mask`` is HxW uint8 in {0, 255}, covers at least
    ``MIN_MASK_FRACTION`` of the image, and pixels outside it are untouched (by construction: the
    rendered defect is composited through the mask). ``donor`` (any RGB uint8 image, normally another
    category's source) is required for ``"patch"``.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 image, got {image.dtype} of shape {image.shape}")
    if kind not in _DRAWERS:
        raise ValueError(f"unknown defect kind {kind!r}; known: {DEFECT_TYPES}")
    if kind == "patch" and donor is None:
        raise ValueError("defect kind 'patch' needs a donor image")
    base = image.astype(np.float32) / 255.0
    min_pixels = MIN_MASK_FRACTION * image.shape[0] * image.shape[1]
    for _ in range(_MAX_DEFECT_ATTEMPTS):
        rendered, region = _DRAWERS[kind](base, rng, donor)
        if np.count_nonzero(region) >= min_pixels:
            defective = np.where(region[:, :, None], _to_uint8(rendered), image)
            return defective, region.astype(np.uint8) * 255
    raise RuntimeError(f"could not draw a {kind!r} defect covering {MIN_MASK_FRACTION:.1%} of the image")


def _scratch(base: np.ndarray, rng: np.random.Generator, _donor: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """One or two thin random-walk polylines, painted light or dark."""
    height, width = base.shape[:2]
    size = min(height, width)
    canvas = np.zeros((height, width), np.uint8)
    for _ in range(int(rng.integers(1, 3))):
        point = rng.uniform(0.15, 0.85, size=2) * (width, height)
        angle = rng.uniform(0, 2 * np.pi)
        points = [point]
        for _ in range(int(rng.integers(3, 6))):
            angle += rng.normal(0.0, 0.5)
            point = point + rng.uniform(0.1, 0.22) * size * np.array([np.cos(angle), np.sin(angle)])
            points.append(point)
        polyline = np.rint(np.clip(points, 0, (width - 1, height - 1))).astype(np.int32)
        thickness = max(1, round(size * rng.uniform(0.012, 0.025)))
        cv2.polylines(canvas, [polyline], isClosed=False, color=1, thickness=thickness, lineType=cv2.LINE_8)
    shade = rng.uniform(0.85, 1.0) if rng.random() < 0.5 else rng.uniform(0.0, 0.15)
    alpha = rng.uniform(0.85, 1.0)
    return base * (1 - alpha) + shade * alpha, canvas.astype(bool)


def _stain(base: np.ndarray, rng: np.random.Generator, _donor: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """A soft irregular blob that blends the surface towards a dark or tinted colour."""
    size = min(base.shape[:2])
    radius = size * rng.uniform(0.07, 0.15)
    blob = _irregular_disk(base.shape[:2], radius, rng).astype(np.float32)
    soft = cv2.GaussianBlur(blob, (0, 0), sigmaX=radius * 0.3)
    region = soft > 0.35
    # Opacity ramps from 35% at the stain's edge to full strength in its core.
    ramp = 0.35 + 0.65 * np.clip((soft - 0.35) / 0.65, 0.0, 1.0)
    alpha = (rng.uniform(0.5, 0.8) * ramp)[:, :, None]
    colour = rng.uniform(0.03, 0.12, size=3) if rng.random() < 0.5 else _tint_colour(rng)
    return base * (1 - alpha) + colour.astype(np.float32) * alpha, region


def _tint_colour(rng: np.random.Generator) -> np.ndarray:
    """A rust / oil / water-like colour: a random hue at moderate saturation and value."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(120, 220), rng.uniform(90, 190)]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255.0


def _hole(base: np.ndarray, rng: np.random.Generator, _donor: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """A dark irregular disk, darker towards its centre, surrounded by a lighter rim."""
    shape = base.shape[:2]
    size = min(shape)
    radius = size * rng.uniform(0.05, 0.11)
    inner = _irregular_disk(shape, radius, rng)
    rim_width = max(1, round(size * rng.uniform(0.01, 0.02)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rim_width + 1, 2 * rim_width + 1))
    outer = cv2.dilate(inner, kernel).astype(bool)
    inner = inner.astype(bool)
    distance = cv2.distanceTransform(inner.astype(np.uint8), cv2.DIST_L2, 3)
    depth = distance / max(float(distance.max()), 1.0)
    floor = (rng.uniform(0.03, 0.12) * (1.0 - 0.5 * depth))[:, :, None]
    rendered = base * 0.15 + floor
    rim_alpha = rng.uniform(0.5, 0.8)
    rim = base * (1 - rim_alpha) + rng.uniform(0.8, 0.95) * rim_alpha
    rendered = np.where(inner[:, :, None], rendered, rim)
    return rendered, outer


def _patch(base: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """A rectangle or ellipse of foreign material cut from ``donor`` at a comparable scale."""
    assert donor is not None  # checked by draw_defect
    height, width = base.shape[:2]
    size = min(height, width)
    patch_h, patch_w = (np.rint(rng.uniform(0.12, 0.3, size=2) * size)).astype(int)
    top = int(rng.integers(0, height - patch_h + 1))
    left = int(rng.integers(0, width - patch_w + 1))
    # Cut the donor as if it were framed like a normal view (shorter side spans twice the image).
    donor_scale = min(donor.shape[:2]) / (2 * size)
    cut_h = max(1, round(patch_h * donor_scale))
    cut_w = max(1, round(patch_w * donor_scale))
    y = int(rng.integers(0, donor.shape[0] - cut_h + 1))
    x = int(rng.integers(0, donor.shape[1] - cut_w + 1))
    cut = np.ascontiguousarray(donor[y : y + cut_h, x : x + cut_w])
    piece = cv2.resize(cut, (patch_w, patch_h), interpolation=cv2.INTER_AREA)
    region = np.zeros((height, width), np.uint8)
    if rng.random() < 0.5:
        region[top : top + patch_h, left : left + patch_w] = 1
    else:
        # cv2 ellipses span 2 * axis + 1 pixels: keep them inside the pasted box.
        axes = ((patch_w - 1) // 2, (patch_h - 1) // 2)
        cv2.ellipse(region, (left + axes[0], top + axes[1]), axes, 0.0, 0.0, 360.0, color=1, thickness=-1)
    rendered = base.copy()
    rendered[top : top + patch_h, left : left + patch_w] = piece.astype(np.float32) / 255.0
    return rendered, region.astype(bool)


def _irregular_disk(shape: tuple[int, int], radius: float, rng: np.random.Generator) -> np.ndarray:
    """A filled star-shaped polygon (uint8 {0,1}) whose radius wobbles smoothly around ``radius``."""
    height, width = shape
    centre = rng.uniform(0.2, 0.8, size=2) * (width, height)
    n_vertices = 24
    wobble = rng.normal(0.0, 0.25, size=n_vertices)
    wobble = np.convolve(np.tile(wobble, 3), np.ones(3) / 3, mode="same")[n_vertices : 2 * n_vertices]
    angles = np.linspace(0, 2 * np.pi, n_vertices, endpoint=False) + rng.uniform(0, 2 * np.pi)
    radii = radius * np.clip(1.0 + wobble, 0.5, 1.6)
    vertices = centre + np.stack([np.cos(angles), np.sin(angles)], axis=1) * radii[:, None]
    disk = np.zeros(shape, np.uint8)
    cv2.fillPoly(disk, [np.rint(vertices).astype(np.int32)], color=1)
    return disk


_DRAWERS = {"scratch": _scratch, "stain": _stain, "hole": _hole, "patch": _patch}

# ----------------------------------------------------------------------------- dataset writing


def _rng(seed: int, category: str, split: str, index: int) -> np.random.Generator:
    """An independent stream per image, stable across processes (crc32, not the salted ``hash``)."""
    return np.random.default_rng([seed, zlib.crc32(category.encode()), zlib.crc32(split.encode()), index])


def normal_sample(category: str, split: str, index: int, seed: int = 0, image_size: int = 128) -> np.ndarray:
    """The ``index``-th normal image of ``split`` ("train/good" or "test/good"), exactly as written to disk."""
    return normal_image(category, _rng(seed, category, split, index), image_size)


def defect_sample(
    category: str, kind: str, index: int, seed: int = 0, image_size: int = 128
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(clean, defective, mask)`` for the ``index``-th ``kind`` test image, exactly as written to disk.

    Exposing the clean image lets callers (and tests) check that the mask covers precisely what changed.
    """
    rng = _rng(seed, category, f"test/{kind}", index)
    # Foreign material comes from the other kind (texture <-> object): a grey texture pasted on another
    # grey texture would often be invisible.
    donors = [other for other in CATEGORIES if type(_spec(other)) is not type(_spec(category))]
    donor = source_image(donors[int(rng.integers(len(donors)))])
    clean = normal_image(category, rng, image_size)
    defective, mask = draw_defect(clean, kind, rng, donor)
    return clean, defective, mask


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Low compression: encoding dominates generation time; the files stay small at these sizes.
    Image.fromarray(array).save(path, format="PNG", compress_level=1)


def _write_category(params: _Params, category: str, root: Path) -> None:
    """Write one category's train/good, test/good, test/{defect} images and their masks."""
    for split, count in (("train/good", params.n_train), ("test/good", params.n_test_good)):
        for index in range(count):
            image = normal_sample(category, split, index, params.seed, params.image_size)
            _save(image, root / split / _name(index, count))
    count = params.n_test_per_defect
    for kind in DEFECT_TYPES:
        for index in range(count):
            _, defective, mask = defect_sample(category, kind, index, params.seed, params.image_size)
            _save(defective, root / "test" / kind / _name(index, count))
            _save(mask, root / "ground_truth" / kind / _name(index, count, "_mask"))


def _name(index: int, count: int, suffix: str = "") -> str:
    return f"{index:0{max(3, len(str(count - 1)))}d}{suffix}.png"


def _marker(params: _Params) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "generator": "gad.data.quickstart",
        "params": asdict(params),
        "auxiliary_categories": list(AUXILIARY_CATEGORIES),
        "target_categories": list(TARGET_CATEGORIES),
        "defect_types": list(DEFECT_TYPES),
    }


def _marker_differences(root: Path, params: _Params) -> list[str]:
    """Human-readable differences between ROOT's marker and the requested dataset ([] if identical)."""
    marker_path = root / MARKER_NAME
    if not marker_path.is_file():
        return [f"it has no {MARKER_NAME} marker, so it was not made by generate_quickstart"]
    try:
        found = json.loads(marker_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return [f"its marker {marker_path} is unreadable ({error})"]
    expected = _marker(params)
    found_params = found.get("params", {}) if isinstance(found, dict) else {}
    differences = [
        f"{key}: existing {found_params.get(key)!r}, requested {value!r}"
        for key, value in expected["params"].items()
        if found_params.get(key) != value
    ]
    if not isinstance(found, dict) or found.get("format_version") != FORMAT_VERSION:
        version = found.get("format_version") if isinstance(found, dict) else None
        differences.append(f"format_version: existing {version!r}, this gad writes {FORMAT_VERSION}")
    return differences


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def generate_quickstart(
    root: str | Path,
    seed: int = 0,
    image_size: int = 128,
    n_train: int = 16,
    n_test_good: int = 6,
    n_test_per_defect: int = 3,
) -> Path:
    """Generate the dataset at ``root`` and return it.

    Everything is written into a temporary sibling folder that is renamed into place only when
    complete, so an interrupted run never leaves a half dataset at ``root``. ``root`` must not exist
    (or be an empty folder); existing data is never overwritten.
    """
    params = _Params(seed, image_size, n_train, n_test_good, n_test_per_defect)
    params.validate()
    root = Path(root).expanduser().absolute()
    if root.exists() and not _is_empty_dir(root):
        raise QuickstartFolderError(
            f"{root} already exists; delete it or choose another root for the quickstart dataset"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".partial", dir=root.parent))
    try:
        for category in CATEGORIES:
            _write_category(params, category, staging / category)
        marker = json.dumps(_marker(params), indent=2, sort_keys=True) + "\n"
        (staging / MARKER_NAME).write_text(marker, encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp creates 0o700; make the result readable like any other folder
        _move_into_place(staging, root, params)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root


def _move_into_place(staging: Path, root: Path, params: _Params) -> None:
    """Rename ``staging`` to ``root``; tolerate a concurrent process that produced the same dataset."""
    if _is_empty_dir(root):
        root.rmdir()
    try:
        staging.rename(root)
    except OSError:
        if not root.exists() or _marker_differences(root, params):
            raise
        shutil.rmtree(staging)  # another process (e.g. a DDP rank) finished an identical dataset first


def ensure_quickstart(
    root: str | Path,
    seed: int = 0,
    image_size: int = 128,
    n_train: int = 16,
    n_test_good: int = 6,
    n_test_per_defect: int = 3,
) -> Path:
    """Return ``root`` holding the requested dataset, generating it only if ``root`` does not exist yet.

    Raises ``QuickstartFolderError`` (a ``FileExistsError``) if ``root`` holds anything else (no marker, or a marker with other
    parameters), rather than guessing whether it is safe to replace.
    """
    params = _Params(seed, image_size, n_train, n_test_good, n_test_per_defect)
    params.validate()
    root = Path(root).expanduser().absolute()
    if not root.exists() or _is_empty_dir(root):
        return generate_quickstart(root, **asdict(params))
    differences = _marker_differences(root, params)
    if differences:
        raise QuickstartFolderError(
            f"{root} exists but does not hold the requested quickstart dataset: "
            + "; ".join(differences)
            + f". Delete {root} to regenerate it, or choose another root."
        )
    return root

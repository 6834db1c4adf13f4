"""DRAEM-style anomaly synthesis: Perlin noise and masks, texture ops and sources, the blend."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gad.data.sources.base import DataLayoutError
from gad.data.synthesis import (
    TEXTURE_OPS,
    FolderTextures,
    PerlinAnomalySynthesizer,
    ProceduralTextures,
    TextureSource,
    augment_texture,
    blend,
    build_texture_ops,
    choose_texture_ops,
    perlin_mask,
    perlin_noise,
    texture_source,
)
from gad.errors import ConfigError


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _reference_perlin(shape: tuple[int, int], periods: tuple[int, int], angles: np.ndarray) -> np.ndarray:
    """Textbook per-pixel Perlin noise (lerp of the four corner dot products), for comparison."""
    fade = lambda t: 6 * t**5 - 15 * t**4 + 10 * t**3  # noqa: E731
    out = np.zeros(shape)
    for i in range(shape[0]):
        for j in range(shape[1]):
            y, x = i * periods[0] / shape[0], j * periods[1] / shape[1]
            cy, cx = int(y), int(x)
            dots = {}
            for dy in (0, 1):
                for dx in (0, 1):
                    angle = angles[cy + dy, cx + dx]
                    dots[dy, dx] = np.sin(angle) * (y - cy - dy) + np.cos(angle) * (x - cx - dx)
            top = dots[0, 0] + fade(x - cx) * (dots[0, 1] - dots[0, 0])
            bottom = dots[1, 0] + fade(x - cx) * (dots[1, 1] - dots[1, 0])
            out[i, j] = np.sqrt(2) * (top + fade(y - cy) * (bottom - top))
    return out


def test_perlin_noise_matches_the_textbook_definition() -> None:
    shape, periods = (18, 25), (3, 5)
    angles = 2 * np.pi * _rng(7).random((periods[0] + 1, periods[1] + 1))
    expected = _reference_perlin(shape, periods, angles)
    np.testing.assert_allclose(perlin_noise(shape, periods, _rng(7)), expected, atol=1e-5)


def test_perlin_noise_shape_range_and_determinism() -> None:
    noise = perlin_noise((64, 48), (4, 2), _rng(1))
    assert noise.shape == (64, 48) and noise.dtype == np.float32
    assert np.array_equal(noise, perlin_noise((64, 48), (4, 2), _rng(1)))
    assert not np.array_equal(noise, perlin_noise((64, 48), (4, 2), _rng(2)))
    extremes = [np.abs(perlin_noise((32, 32), (4, 4), _rng(seed))).max() for seed in range(50)]
    assert max(extremes) <= 1.0 and max(extremes) > 0.6
    # Gradient noise is zero on the lattice: every 16th pixel for 4 periods over 64 pixels.
    assert np.abs(noise[::16, ::24]).max() < 1e-6


def test_more_periods_give_more_zero_crossings() -> None:
    def crossings(periods: int) -> float:
        signs = [np.sign(perlin_noise((64, 64), (periods, periods), _rng(seed))) for seed in range(10)]
        return float(np.mean([np.count_nonzero(np.diff(sign, axis=1)) for sign in signs]))

    assert crossings(2) < crossings(4) < crossings(16)


def test_perlin_mask_is_binary_deterministic_and_non_trivial_on_average() -> None:
    masks = [perlin_mask((64, 64), _rng(seed)) for seed in range(100)]
    assert all(m.dtype == np.uint8 and m.shape == (64, 64) and set(np.unique(m)) <= {0, 1} for m in masks)
    assert np.array_equal(masks[0], perlin_mask((64, 64), _rng(0)))
    fractions = np.array([m.mean() for m in masks])
    assert 0.01 < fractions.mean() < 0.3
    assert (fractions > 0).mean() > 0.8  # now and then empty, as in DRAEM


def test_blend_formula_is_exact() -> None:
    image = np.full((4, 4, 3), 0.2, np.float32)
    texture = np.full((4, 4, 3), 0.9, np.float32)
    mask = np.zeros((4, 4), np.uint8)
    mask[1:3, 1:3] = 1
    out = blend(image, texture, mask, beta=0.25)
    inside = mask.astype(bool)
    np.testing.assert_allclose(out[inside], 0.75 * 0.9 + 0.25 * 0.2, rtol=1e-6)
    assert np.array_equal(out[~inside], image[~inside])


class _Constant(TextureSource):
    """A white texture, so the blend weight can be read back from the result."""

    def texture(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        return np.full((*shape, 3), 255, np.uint8)


def test_synthesizer_texture_weight_and_untouched_outside() -> None:
    synthesize = PerlinAnomalySynthesizer(_Constant(), texture_ops=0)
    black = np.zeros((48, 48, 3), np.uint8)
    weights = []
    for seed in range(40):
        result = synthesize(black, _rng(seed))
        inside = result.mask.astype(bool)
        assert result.label == bool(inside.any())
        assert not result.image[~inside].any()
        if inside.any():
            values = np.unique(result.image[inside])
            assert len(values) == 1  # one beta per anomaly
            weights.append(values[0] / 255)
    assert min(weights) >= 0.2 and max(weights) <= 1.0
    assert max(weights) - min(weights) > 0.3  # beta varies


def test_synthesizer_is_deterministic_and_keeps_uint8() -> None:
    synthesize = PerlinAnomalySynthesizer(ProceduralTextures())
    image = _rng(3).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    first, second = synthesize(image, _rng(5)), synthesize(image, _rng(5))
    assert first.image.dtype == np.uint8 and first.image.shape == image.shape
    assert np.array_equal(first.image, second.image) and np.array_equal(first.mask, second.mask)


@pytest.mark.parametrize("kwargs", [{"scales": ()}, {"scales": (0, 2)}, {"beta_max": 1.5}, {"texture_ops": 11}])
def test_synthesizer_rejects_bad_settings(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        PerlinAnomalySynthesizer(ProceduralTextures(), **kwargs)


@pytest.mark.parametrize("name", list(TEXTURE_OPS))
def test_each_texture_op_keeps_shape_and_uint8(name: str) -> None:
    image = _rng(0).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    out = TEXTURE_OPS[name](image, _rng(1))
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert np.array_equal(out, TEXTURE_OPS[name](image, _rng(1)))


def test_ten_ops_three_distinct_per_texture() -> None:
    assert len(TEXTURE_OPS) == 10
    seen: set[str] = set()
    for seed in range(30):
        names = choose_texture_ops(_rng(seed))
        assert len(names) == len(set(names)) == 3
        seen.update(names)
    assert seen == set(TEXTURE_OPS)
    image = _rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    assert np.array_equal(augment_texture(image, _rng(4)), augment_texture(image, _rng(4)))


def test_procedural_textures_are_varied_and_deterministic() -> None:
    textures = [ProceduralTextures().texture((40, 56), _rng(seed)) for seed in range(6)]
    assert all(t.dtype == np.uint8 and t.shape == (40, 56, 3) and t.std() > 1 for t in textures)
    assert np.array_equal(textures[0], ProceduralTextures().texture((40, 56), _rng(0)))
    assert isinstance(texture_source(None), ProceduralTextures)


def test_folder_textures_read_recursively_and_resize(tmp_path: Path) -> None:
    for name, colour in (("banded/b.jpg", 200), ("dotted/a.png", 30)):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(np.full((30, 50, 3), colour, np.uint8)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    source = texture_source(tmp_path)
    assert isinstance(source, FolderTextures)
    assert [p.relative_to(tmp_path).as_posix() for p in source.paths] == ["banded/b.jpg", "dotted/a.png"]
    texture = source.texture((16, 24), _rng(0))
    assert texture.shape == (16, 24, 3) and texture.dtype == np.uint8


def test_folder_textures_name_a_missing_or_empty_folder(tmp_path: Path) -> None:
    missing = tmp_path / "DTD" / "images"
    with pytest.raises(DataLayoutError, match="DTD/images.*does not exist"):
        FolderTextures(missing)
    missing.mkdir(parents=True)
    (missing / "readme.txt").write_text("no images here")
    with pytest.raises(DataLayoutError, match="DTD/images holds no image"):
        FolderTextures(missing)


def test_albumentations_accepts_every_argument() -> None:
    """albumentations only warns about unknown (e.g. 1.x) argument names, attributed to the caller's module."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_texture_ops()

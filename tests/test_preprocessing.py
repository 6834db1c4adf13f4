"""One preprocessing, bit-identical to the official code's torchvision transforms on PIL images."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from PIL import Image

from gad.data.images import read_rgb
from gad.data.preprocessing import Preprocessing
from gad.errors import ConfigError
from tests.fixtures.parity import PARITY

transforms = pytest.importorskip("torchvision.transforms", reason="torchvision is the reference")
SIZES = [(300, 241), (241, 300), (340, 300), (333, 500), (240, 240), (60, 100), (17, 9), (1000, 999), (288, 288)]


def official(image: Image.Image, size: int, resize: str, interpolation=None) -> torch.Tensor:
    """The papers' transform without Normalize: DictAS Resize((S, S)), InCTRL Resize(S); CenterCrop; ToTensor."""
    interpolation = interpolation or transforms.InterpolationMode.BICUBIC
    scale = transforms.Resize((size, size) if resize == "squash" else size, interpolation)
    return transforms.Compose([scale, transforms.CenterCrop(size), transforms.ToTensor()])(image)


def random_image(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng([height, width])
    smooth = np.linspace(0, 255, height * width * 3).reshape(height, width, 3)
    return np.clip(smooth + rng.normal(0, 40, (height, width, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("resize", ["squash", "shorter_side"])
@pytest.mark.parametrize("size", [240, 336, 24])
def test_bit_identical_to_torchvision_on_pil(resize: str, size: int) -> None:
    for height, width in SIZES:
        pixels = random_image(height, width)
        got, _ = Preprocessing(size, resize)(pixels)
        assert torch.equal(torch.from_numpy(got), official(Image.fromarray(pixels), size, resize)), (height, width)


def test_other_filters_match_torchvision_too() -> None:
    pixels = random_image(300, 241)
    for name, mode in [
        ("bilinear", transforms.InterpolationMode.BILINEAR),
        ("nearest", transforms.InterpolationMode.NEAREST),
    ]:
        got, _ = Preprocessing(112, "shorter_side", name)(pixels)
        assert torch.equal(torch.from_numpy(got), official(Image.fromarray(pixels), 112, "shorter_side", mode))


def test_an_image_of_the_input_size_is_unchanged() -> None:
    pixels = random_image(96, 96)
    for resize in ("squash", "shorter_side"):
        got, _ = Preprocessing(96, resize)(pixels)
        assert np.array_equal(got, pixels.transpose(2, 0, 1).astype(np.float32) / 255)


def test_geometry_truncates_the_long_side_and_rounds_the_offset_half_to_even() -> None:
    prep = Preprocessing(240, "shorter_side")
    assert prep.resized_size(300, 340) == (240, 272)  # 240 * 340 / 300 = 272.0
    assert prep.resized_size(241, 300) == (240, 298)  # 298.75 truncated, not rounded to 299
    assert prep.crop_offset(241, 300) == (0, 29)  # (298 - 240) / 2 = 29
    assert Preprocessing(10, "shorter_side").crop_offset(10, 15) == (0, 2)  # 2.5 -> 2 (Python's round)
    assert Preprocessing(10, "shorter_side").crop_offset(10, 17) == (0, 4)  # 3.5 -> 4
    assert Preprocessing(240).resized_size(300, 340) == (240, 240) and Preprocessing(240).crop_offset(300, 340) == (
        0,
        0,
    )


def test_visible_box_is_the_part_of_the_image_the_model_sees() -> None:
    assert Preprocessing(240).visible_box(300, 340) == (0, 0, 300, 340)
    assert Preprocessing(240, "shorter_side").visible_box(300, 340) == (0, 20, 300, 320)
    assert Preprocessing(100, "shorter_side").visible_box(400, 200) == (100, 0, 300, 200)


def test_masks_follow_their_image_bilinear_then_binarised_at_half() -> None:
    rng = np.random.default_rng(0)
    mask = np.zeros((241, 300), np.uint8)
    mask[40:120, 70:90] = 1
    mask[rng.random(mask.shape) < 0.02] = 1  # isolated pixels: bilinear shrinking drops them below 0.5
    for resize in ("squash", "shorter_side"):
        prep = Preprocessing(112, resize)
        _, got = prep(random_image(241, 300), mask)
        scaled = transforms.Resize((112, 112) if resize == "squash" else 112)(Image.fromarray(mask * 255))
        expected = (transforms.ToTensor()(transforms.CenterCrop(112)(scaled)) > 0.5).float()  # official DictAS rule
        assert got.shape == (1, 112, 112) and got.dtype == np.float32
        assert torch.equal(torch.from_numpy(got), expected)
        assert 0 < got.sum() < (mask.sum() * (112 / 241) ** 2)


def test_plain_dict_round_trip_and_bad_values() -> None:
    prep = Preprocessing(240, "shorter_side")
    assert prep.as_dict() == {"image_size": 240, "resize": "shorter_side", "interpolation": "bicubic"}
    assert Preprocessing.from_dict(prep.as_dict()) == prep
    assert "Resize(240), CenterCrop(240), ToTensor()" in prep.specification()["equivalent"]
    with pytest.raises(ConfigError, match="preprocessing.resize must be one of"):
        Preprocessing(240, "crop")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="preprocessing.interpolation"):
        Preprocessing(240, interpolation="lanczos")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="preprocessing.image_size"):
        Preprocessing(0)


@pytest.mark.skipif(not (PARITY / "inctrl").is_dir(), reason=f"parity fixtures not found at {PARITY / 'inctrl'}")
def test_inctrl_fixture_model_input_is_reproduced_bit_for_bit() -> None:
    """images240/ holds the official InCTRL model input of images/ (Resize(240, BICUBIC) + CenterCrop(240))."""
    sources = sorted((PARITY / "inctrl" / "images").glob("*.png"))
    assert sources
    for source in sources:
        expected = read_rgb(PARITY / "inctrl" / "images240" / source.name)
        assert np.array_equal(Preprocessing(240, "shorter_side").image(read_rgb(source)), expected), source.name

"""Mask binarisation at half of full scale (label maps at > 0), the soft-mask warning and ``gad data check``."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gad.cli import main
from gad.data.dataset import AnomalyDataset
from gad.data.images import read_mask, read_mask_file
from gad.data.preprocessing import Preprocessing
from tests.fixtures import raw_datasets as raw


def save(path: Path, pixels: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(pixels, mode=mode).save(path) if mode else Image.fromarray(pixels).save(path)
    return path


def ramp(dtype: type = np.uint8, top: int = 255) -> np.ndarray:
    """A 1-row mask running from 0 to full scale: the anti-aliased edge of a mask."""
    return np.linspace(0, top, 16).round().astype(dtype)[None, :].repeat(2, axis=0)


def test_eight_bit_soft_mask_is_binarised_at_128(tmp_path: Path) -> None:
    pixels = np.array([[0, 1, 127, 128, 200, 255]], dtype=np.uint8)
    mask = read_mask_file(save(tmp_path / "m.png", pixels))
    assert read_mask(tmp_path / "m.png").tolist() == [[0, 0, 0, 1, 1, 1]]
    assert not mask.labels and mask.soft_share == pytest.approx(4 / 5)


def test_sixteen_bit_mask_is_binarised_at_32768(tmp_path: Path) -> None:
    pixels = np.array([[0, 255, 32767, 32768, 65535]], dtype=np.uint16)
    path = save(tmp_path / "m16.png", pixels)
    assert Image.open(path).mode.startswith("I")
    assert read_mask(path).tolist() == [[0, 0, 0, 1, 1]]


def test_visa_label_map_counts_every_label(tmp_path: Path) -> None:
    """VisA masks hold a small class label per defect (1..N), never 255: any non-zero pixel is anomalous."""
    pixels = np.array([[0, 1, 2, 3, 0, 7]], dtype=np.uint8)
    mask = read_mask_file(save(tmp_path / "visa.png", pixels))
    assert mask.labels and mask.soft_share == 0
    assert mask.binary.tolist() == [[0, 1, 1, 1, 0, 1]]


def test_zero_one_mask_counts_its_ones(tmp_path: Path) -> None:
    assert read_mask(save(tmp_path / "resc.png", np.array([[0, 1, 1, 0]], dtype=np.uint8))).tolist() == [[0, 1, 1, 0]]


def test_palette_mask_is_a_label_map(tmp_path: Path) -> None:
    image = Image.fromarray(np.array([[0, 1, 2, 0]], dtype=np.uint8), mode="P")
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    image.save(tmp_path / "p.png")
    assert read_mask(tmp_path / "p.png").tolist() == [[0, 1, 1, 0]]


def test_float_mask_is_binarised_at_half(tmp_path: Path) -> None:
    save(tmp_path / "f.tif", np.array([[0.0, 0.2, 0.49, 0.5, 1.0]], dtype=np.float32), mode="F")
    assert read_mask(tmp_path / "f.tif").tolist() == [[0, 0, 0, 1, 1]]


def test_colour_mask_takes_its_brightest_channel(tmp_path: Path) -> None:
    pixels = np.zeros((1, 4, 3), dtype=np.uint8)
    pixels[0, 1] = (255, 0, 0)
    pixels[0, 2] = (0, 100, 0)  # a faint edge
    pixels[0, 3] = (0, 0, 200)
    assert read_mask(save(tmp_path / "rgb.png", pixels)).tolist() == [[0, 1, 0, 1]]


def test_binary_mask_is_not_soft(tmp_path: Path) -> None:
    mask = read_mask_file(raw.mask(tmp_path / "mvtec.png"))
    assert not mask.labels and mask.soft_share == 0 and mask.binary.sum() == 64


def _dataset(tmp_path: Path, masks: list[np.ndarray]) -> AnomalyDataset:
    rows = []
    for index, pixels in enumerate(masks):
        image = raw.image(tmp_path / f"{index}.png", size=(16, 2))
        rows.append(
            {
                "path": str(image),
                "category": "c",
                "split": "test",
                "label": 1,
                "defect": "d",
                "mask_path": str(save(tmp_path / f"{index}_mask.png", pixels)),
            }
        )
    return AnomalyDataset(pd.DataFrame(rows), Preprocessing(16), with_masks=True)


def test_soft_masks_warn_once_per_dataset(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path, [ramp(), ramp(), ramp()])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for index in range(len(dataset)):
            dataset[index]
    soft = [w for w in caught if "Soft masks" in str(w.message)]
    assert len(soft) == 1
    assert "0_mask.png has 93% of its non-zero pixels between 0 and full scale" in str(soft[0].message)
    assert "binarised at half of full scale (>= 128), not at > 0" in str(soft[0].message)


def test_binary_masks_do_not_warn(tmp_path: Path) -> None:
    binary = np.zeros((2, 16), dtype=np.uint8)
    binary[:, 8:] = 255
    dataset = _dataset(tmp_path, [binary])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert dataset[0]["mask"].sum() > 0
    assert not [w for w in caught if "Soft masks" in str(w.message)]


def test_data_check_reports_soft_masks_with_their_share(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw.write_mvtec(tmp_path / "mvtec", categories=("bottle",))
    soft = tmp_path / "mvtec" / "bottle" / "ground_truth" / "broken" / "000_mask.png"
    pixels = np.zeros((16, 16), dtype=np.uint8)
    pixels[4:8, 4:8], pixels[3, 4:8] = 255, 60  # a 4x4 defect with one anti-aliased row above it
    save(soft, pixels)
    main(["data", "check", "mvtec", "--root", str(tmp_path / "mvtec"), "--progress", "false"])
    out = capsys.readouterr().out
    assert "1 masks are not binary (anti-aliased or blurred)" in out
    assert f"{soft}: 20.0% intermediate values" in out and out.rstrip().endswith("OK")


def test_data_check_fails_on_empty_masks_of_anomalous_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw.write_mvtec(tmp_path / "mvtec", categories=("bottle",))
    empty = tmp_path / "mvtec" / "bottle" / "ground_truth" / "crack" / "000_mask.png"
    raw.mask(empty, value=0)
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", "mvtec", "--root", str(tmp_path / "mvtec"), "--progress", "false"])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "1 problems:" in out
    assert f"mask {empty} of anomalous image" in out and "is empty (all zero)" in out

"""Errors that name the path, show the expected layout and say which dataset a folder looks like; image handling."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gad.data.dataset import AnomalyDataset
from gad.data.images import read_mask, read_rgb
from gad.data.preprocessing import Preprocessing
from gad.data.sources import ELPV, MNIST, BTAD, DataLayoutError, MVTecAD, MVTecLayout, VisA
from gad.data.sources.check import check_source
from gad.data.sources.layouts import detect_layout
from gad.errors import ConfigError
from tests.fixtures import raw_datasets as raw


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError, match=r"visa: data folder .*nowhere does not exist.*split_csv/1cls.csv"):
        VisA(str(tmp_path / "nowhere")).samples()


def test_empty_root(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataLayoutError, match=r"data folder .*empty is empty"):
        MVTecAD(str(tmp_path / "empty")).samples()


def test_missing_split_folder_is_named(tmp_path: Path) -> None:
    raw.write_mvtec(tmp_path / "mvtec", categories=("bottle",))
    shutil.rmtree(tmp_path / "mvtec" / "bottle" / "train")
    with pytest.raises(DataLayoutError, match=r"missing folder .*bottle/train/good"):
        MVTecAD(str(tmp_path / "mvtec")).samples()


def test_empty_category_is_named(tmp_path: Path) -> None:
    raw.write_mvtec(tmp_path / "mvtec", categories=("bottle",))
    for image in (tmp_path / "mvtec" / "bottle" / "train" / "good").iterdir():
        image.unlink()
    with pytest.raises(DataLayoutError, match=r"no normal training image in .*bottle/train/good"):
        MVTecAD(str(tmp_path / "mvtec")).samples()


def test_missing_category(tmp_path: Path) -> None:
    raw.write_btad(tmp_path / "btad")
    with pytest.raises(DataLayoutError, match=r"\['metal3'\] not found.*'metal1'"):
        BTAD(str(tmp_path / "btad"), categories=["metal3"]).samples()


@pytest.mark.parametrize(
    ("writer", "reader", "message"),
    [
        (raw.write_visa, MVTecAD, "looks like the VisA download"),
        (raw.write_btad, VisA, "looks like BTAD"),
        (raw.write_mvtec, VisA, "looks like the MVTec AD layout"),
        (raw.write_mvtec3d, MVTecAD, "looks like MVTec 3D-AD"),
        (raw.write_elpv, MVTecAD, r"looks like the raw ELPV download.*gad data prepare elpv"),
        (raw.write_mnist_png, MVTecAD, "looks like class folders"),
    ],
)
def test_layout_of_another_dataset_is_named(tmp_path: Path, writer, reader, message: str) -> None:
    writer(tmp_path / "data")
    with pytest.raises(DataLayoutError, match=message):
        reader(str(tmp_path / "data")).samples()


def test_raw_download_given_to_a_prepared_reader_says_which_command(tmp_path: Path) -> None:
    raw.write_elpv(tmp_path / "elpv")
    with pytest.raises(DataLayoutError, match=r"raw download; convert it first with `gad data prepare elpv --src"):
        ELPV(str(tmp_path / "elpv")).samples()


def test_class_folders_missing_class(tmp_path: Path) -> None:
    raw.write_mnist_png(tmp_path / "mnist")
    shutil.rmtree(tmp_path / "mnist" / "mnist_png" / "testing" / "7")
    with pytest.raises(DataLayoutError, match=r"class folders \['7'\] missing in .*testing"):
        MNIST(str(tmp_path / "mnist")).samples()


def test_visa_missing_listed_image(tmp_path: Path) -> None:
    raw.write_visa(tmp_path / "visa")
    (tmp_path / "visa" / "pcb1" / "Data" / "Images" / "Anomaly" / "001.JPG").unlink()
    with pytest.raises(DataLayoutError, match=r"pcb1/Data/Images/Anomaly/001.JPG \(listed in .*1cls.csv line \d+\)"):
        VisA(str(tmp_path / "visa")).samples()


def test_check_reports_unreadable_files_and_resized_masks(tmp_path: Path) -> None:
    raw.write_mvtec(tmp_path / "mvtec", categories=("bottle",))
    broken = tmp_path / "mvtec" / "bottle" / "test" / "good" / "000.png"
    broken.write_bytes(b"not a png")
    raw.mask(tmp_path / "mvtec" / "bottle" / "ground_truth" / "crack" / "000_mask.png", size=(32, 32))
    report = check_source(MVTecLayout(str(tmp_path / "mvtec")), progress=False)
    assert len(report.problems) == 1 and str(broken) in report.problems[0]
    assert report.resized_masks == 1
    assert report.counts.loc["total"].tolist() == [3, 2, 3, 3]


def test_mask_of_another_size_is_resized_with_a_warning(tmp_path: Path) -> None:
    raw.write_mvtec(tmp_path / "mvtec", categories=("bottle",))
    mask_path = tmp_path / "mvtec" / "bottle" / "ground_truth" / "crack" / "000_mask.png"
    raw.mask(mask_path, size=(32, 32), box=(0, 0, 16, 16))
    samples = MVTecLayout(str(tmp_path / "mvtec")).samples()
    dataset = AnomalyDataset(samples[samples["mask_path"] == str(mask_path)], Preprocessing(16), with_masks=True)
    with pytest.warns(UserWarning, match="resized with nearest neighbour"):
        item = dataset[0]
    assert item["mask"].shape == (1, 16, 16) and item["mask"][0, :8, :8].eq(1).all() and item["mask"][0, 8:].eq(0).all()
    raw.mask(mask_path, size=(32, 8))
    with pytest.raises(ConfigError, match="must be aligned"):
        dataset[0]


def test_sixteen_bit_rgba_palette_and_grayscale_images_become_rgb(tmp_path: Path) -> None:
    wide = np.full((4, 4), 65535, dtype=np.uint16)
    wide[0, 0] = 256 * 10
    Image.fromarray(wide).save(tmp_path / "wide.png")
    assert read_rgb(tmp_path / "wide.png").shape == (4, 4, 3)
    assert (
        read_rgb(tmp_path / "wide.png")[0, 0].tolist() == [10, 10, 10]
        and read_rgb(tmp_path / "wide.png")[1, 1, 0] == 255
    )
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 0
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    assert read_rgb(tmp_path / "rgba.png")[0, 0].tolist() == [200, 0, 0]  # alpha dropped, as cv2.imread does
    Image.fromarray(np.full((4, 4), 7, dtype=np.uint8)).convert("P").save(tmp_path / "palette.png")
    assert read_rgb(tmp_path / "palette.png").shape == (4, 4, 3)
    Image.fromarray(np.full((4, 4), 9, dtype=np.uint8)).save(tmp_path / "gray.png")
    assert read_rgb(tmp_path / "gray.png")[0, 0].tolist() == [9, 9, 9]


def test_mask_binarization_rule(tmp_path: Path) -> None:
    wide = np.zeros((4, 4), dtype=np.uint16)
    wide[0, 0] = 1000
    Image.fromarray(wide).save(tmp_path / "wide_mask.png")
    assert read_mask(tmp_path / "wide_mask.png").sum() == 1
    labels = np.array([[0, 1], [2, 0]], dtype=np.uint8)
    Image.fromarray(labels).save(tmp_path / "labels.png")
    assert read_mask(tmp_path / "labels.png").tolist() == [[0, 1], [1, 0]]
    colour = np.zeros((2, 2, 3), dtype=np.uint8)
    colour[1, 1, 2] = 255
    Image.fromarray(colour).save(tmp_path / "colour.png")
    assert read_mask(tmp_path / "colour.png").tolist() == [[0, 0], [0, 1]]


def test_detect_layout_knows_every_raw_download(tmp_path: Path) -> None:
    writers = {
        "visa": raw.write_visa,
        "mvtec3d": raw.write_mvtec3d,
        "btad": raw.write_btad,
        "kolektorsdd": raw.write_kolektor,
        "aitex": raw.write_aitex,
        "headct": raw.write_headct,
        "elpv": raw.write_elpv,
        "brainmri": raw.write_brainmri,
        "mnist": raw.write_mnist_idx,
        "cifar10": raw.write_cifar_batches,
        "mvtec": raw.write_mvtec,
        "class_folders": raw.write_mnist_png,
        "metajson": raw.write_meta_json,
        "folder": raw.write_folder,
    }
    for key, writer in writers.items():
        writer(tmp_path / key)
        assert detect_layout(tmp_path / key)[0] == key, key

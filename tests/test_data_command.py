"""``gad data list | prepare | check | quickstart``."""

from __future__ import annotations

from pathlib import Path

import pytest

from gad.cli import main
from gad.data.converters import MANIFEST_NAME
from tests.fixtures import raw_datasets as raw


def gad(*args: str) -> None:
    main(["data", *args])


def test_list_names_every_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    gad("list")
    out = capsys.readouterr().out
    for name in (
        "mvtec",
        "visa",
        "mpdd",
        "mvtec3d",
        "btad",
        "resc",
        "brats",
        "kolektorsdd",
        "aitex",
        "elpv",
        "brainmri",
        "headct",
        "mnist",
        "cifar10",
        "folder",
        "metajson",
    ):
        assert f"\n{name} " in f"\n{out}"
    assert "gad data prepare elpv" in out and "gad.data.sources.VisA" in out


def test_prepare_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw.write_elpv(tmp_path / "raw")
    gad("prepare", "elpv", "--src", str(tmp_path / "raw"), "--dst", str(tmp_path / "elpv"), "--progress", "false")
    out = capsys.readouterr().out
    assert "elpv written to" in out and "elpv/train/good: 6" in out and (tmp_path / "elpv" / MANIFEST_NAME).is_file()
    gad("prepare", "elpv", "--src", str(tmp_path / "raw"), "--dst", str(tmp_path / "elpv"), "--progress", "false")
    assert "already prepared and verified" in capsys.readouterr().out
    gad("check", "elpv", "--root", str(tmp_path / "elpv"), "--progress", "false")
    out = capsys.readouterr().out
    assert "train_normal" in out and "OK" in out
    row = next(line for line in out.splitlines() if line.startswith("elpv"))
    assert row.split()[1:] == ["6", "2", "4", "0"]


def test_check_with_reader_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw.write_mnist_png(tmp_path / "mnist")
    gad(
        "check",
        "mnist",
        "--root",
        str(tmp_path / "mnist"),
        "--option",
        "protocol=multi_class",
        "test_per_class=1",
        "--progress",
        "false",
    )
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("even"))
    assert row.split()[1:] == ["15", "5", "5", "0"]


def test_check_reports_problems_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw.write_mvtec(tmp_path / "mvtec", categories=("bottle",))
    (tmp_path / "mvtec" / "bottle" / "train" / "good" / "000.png").write_bytes(b"broken")
    with pytest.raises(SystemExit) as exit_info:
        gad("check", "mvtec", "--root", str(tmp_path / "mvtec"), "--progress", "false")
    assert exit_info.value.code == 1
    assert "1 problems" in capsys.readouterr().out


def test_errors_are_one_line(tmp_path: Path) -> None:
    raw.write_visa(tmp_path / "visa")
    with pytest.raises(
        SystemExit, match=r"^gad data: error: mvtec: no category found in .*looks like the VisA download"
    ):
        gad("check", "mvtec", "--root", str(tmp_path / "visa"), "--progress", "false")
    with pytest.raises(SystemExit, match=r"gad data: error: headct: source folder .* does not exist"):
        gad("prepare", "headct", "--src", str(tmp_path / "nowhere"), "--dst", str(tmp_path / "out"))
    with pytest.raises(SystemExit, match=r"--option takes KEY=VALUE"):
        gad("check", "mnist", "--root", str(tmp_path / "visa"), "--option", "protocol")
    with pytest.raises(SystemExit, match=r"does not take these options"):
        gad("check", "mnist", "--root", str(tmp_path / "visa"), "--option", "colour=1")


def test_prepare_of_a_dataset_read_as_downloaded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gad("prepare", "visa", "--src", str(tmp_path / "visa"), "--dst", str(tmp_path / "out"))
    assert "needs no conversion" in capsys.readouterr().out and not (tmp_path / "out").exists()


def test_quickstart_still_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gad(
        "quickstart",
        "--root",
        str(tmp_path / "qs"),
        "--image_size",
        "32",
        "--n_train",
        "2",
        "--n_test_good",
        "1",
        "--n_test_per_defect",
        "1",
    )
    assert "dataset written to" in capsys.readouterr().out
    gad("check", "quickstart", "--root", str(tmp_path / "qs"), "--progress", "false")
    assert "OK" in capsys.readouterr().out


def test_check_hints_at_an_unused_masks_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw.write_folder(tmp_path / "own")
    for mask in list((tmp_path / "own").glob("*/masks/*/*.png")):
        mask.rename(mask.with_name(f"{mask.stem}_mask.png"))
    gad("check", "folder", "--root", str(tmp_path / "own"), "--progress", "false")
    out = capsys.readouterr().out
    hint = "--option mask_dir=masks mask_suffix=_mask"
    assert "masks/ folders exist but mask_dir is unset" in out and hint in out
    gad("check", "folder", "--root", str(tmp_path / "own"), "--progress", "false", *hint.split())
    out = capsys.readouterr().out
    assert "mask_dir is unset" not in out and "OK" in out
    assert next(line for line in out.splitlines() if line.startswith("total")).split()[-1] == "6"

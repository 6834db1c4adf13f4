"""Run folders: created atomically, marked with their status, and only finished runs are picked; folders under a
regular file fail at once with one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gad.cli import main
from gad.runs import (
    CONFIG_NAME,
    STATUS_NAME,
    NoRunError,
    command_status,
    latest_run,
    new_output_dir,
    run_checkpoint,
    run_status,
    write_status,
)
from tests.conftest import REPO

SRC = str(REPO / "src")
QUICKSTART = str(REPO / "configs" / "quickstart.yaml")


def test_threads_in_the_same_second_get_their_own_folders(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)
    folders: list[Path] = []

    def make() -> None:
        barrier.wait()
        folders.append(new_output_dir(tmp_path, "dictas_quickstart"))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(folders)) == 8 and all(run_status(f) == "running" for f in folders)
    assert len({f.name.split("_", 1)[0] for f in folders}) <= 2  # the same second (or two): names told apart


def test_two_processes_in_the_same_second_get_their_own_folders(tmp_path: Path) -> None:
    start = time.time() + 3  # both wait for the same instant after their imports
    code = (
        f"import time; from pathlib import Path; from gad.runs import new_output_dir; "
        f"time.sleep(max(0, {start} - time.time())); print(new_output_dir(Path({str(tmp_path)!r}), 'run'))"
    )
    env = os.environ | {"PYTHONPATH": SRC}
    processes = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)
    ]
    folders = [Path(p.communicate(timeout=120)[0].strip()) for p in processes]
    assert folders[0] != folders[1] and all(f.is_dir() for f in folders)
    assert folders[0].name.split("_")[0] == folders[1].name.split("_")[0], "not the same second: test inconclusive"


@pytest.mark.parametrize(
    "ending, status",
    [
        (None, "finished"),
        (ValueError("bad"), "failed"),
        (KeyboardInterrupt(), "interrupted"),
        ("sigterm", "interrupted"),
    ],
)
def test_status_follows_how_the_command_ended(tmp_path: Path, ending, status: str) -> None:
    with pytest.raises(BaseException) if ending is not None else _nothing():
        with command_status():
            folder = new_output_dir(tmp_path, "run")
            assert run_status(folder) == "running"
            if ending == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
            elif ending is not None:
                raise ending
    record = json.loads((folder / STATUS_NAME).read_text())
    assert record["status"] == status and record["pid"] == os.getpid()


def test_lightning_graceful_ctrl_c_counts_as_interrupted(tmp_path: Path) -> None:
    """Lightning answers Ctrl-C with SystemExit(1) after its shutdown: the status looks behind it."""
    with pytest.raises(SystemExit), command_status():
        folder = new_output_dir(tmp_path, "run")
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            sys.exit(1)
    assert run_status(folder) == "interrupted"


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def fake_run(root: Path, name: str, status: str | None, age: float) -> Path:
    folder = root / name
    (folder / "checkpoints").mkdir(parents=True)
    (folder / CONFIG_NAME).write_text("model: {}\n")
    (folder / "checkpoints" / "best.ckpt").write_bytes(b"x")
    if status:
        write_status(folder, status)
    stamp = time.time() - age
    os.utime(folder / CONFIG_NAME, (stamp, stamp))
    return folder


def test_most_recent_run_is_the_most_recent_finished_one(tmp_path: Path) -> None:
    finished = fake_run(tmp_path, "a", "finished", age=100)
    for age, status in enumerate(("running", "failed", "interrupted", None)):
        fake_run(tmp_path, f"b{age}", status, age=age)
    assert latest_run(tmp_path) == (finished, finished / "checkpoints" / "best.ckpt")
    (finished / STATUS_NAME).unlink()
    with pytest.raises(NoRunError, match="No finished run.*killed, failed or are still running"):
        latest_run(tmp_path)


def test_run_option_takes_a_run_of_an_older_gad_without_status(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = fake_run(tmp_path, "old", None, age=0)
    assert run_checkpoint(folder) == folder / "checkpoints" / "best.ckpt"
    assert f"{folder} has no {STATUS_NAME}" in capsys.readouterr().err
    # the most recent run still needs a status: an old folder may as well be a killed run
    with pytest.raises(NoRunError):
        latest_run(tmp_path)


@pytest.mark.parametrize("status", ["running", "failed", "interrupted"])
def test_run_option_refuses_unfinished_runs(tmp_path: Path, status: str | None) -> None:
    folder = fake_run(tmp_path, "a", status, age=0)
    with pytest.raises(NoRunError, match=f"--run {folder}: the run is .*not finished.*--resume"):
        run_checkpoint(folder)


def test_failed_fit_leaves_a_failed_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "broken.bin"
    weights.write_bytes(b"not weights")
    monkeypatch.setenv("GAD_RUNS_DIR", str(tmp_path / "runs"))
    args = ["fit", "--config", QUICKSTART, "--model.init_args.backbone.pretrained", str(weights)]
    monkeypatch.setattr(sys, "argv", ["gad", *args])
    with pytest.raises(SystemExit, match="broken.bin"):
        main(args)
    (run,) = (tmp_path / "runs").iterdir()
    assert run_status(run) == "failed" and "WeightsFileError" in json.loads((run / STATUS_NAME).read_text())["error"]


@pytest.fixture()
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("a regular file\n")
    return path


def test_runs_folder_under_a_regular_file_is_one_line_before_training(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    a_file: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAD_RUNS_DIR", str(a_file / "runs"))
    args = ["fit", "--config", QUICKSTART]
    monkeypatch.setattr(sys, "argv", ["gad", *args])
    with pytest.raises(SystemExit) as info:
        main(args)
    assert (
        str(info.value.code) == f"gad: error: Runs folder ($GAD_RUNS_DIR) {a_file / 'runs'}: {a_file} is a file, "
        "so no folder can be created under it."
    )
    assert not (tmp_path / "data").exists()  # nothing was generated, loaded or trained


@pytest.mark.slow  # a fresh gad process per command
@pytest.mark.parametrize("command", ["predict", "export"])
def test_output_under_a_regular_file_is_refused_before_any_model_is_loaded(a_file: Path, command: str) -> None:
    """The checkpoint does not even exist: the output folder is checked first."""
    output = a_file / "out" / ("model.onnx" if command == "export" else "")
    args = [
        command,
        "--ckpt_path",
        "/nowhere/x.ckpt",
        "--references",
        "/nowhere",
        "--images",
        "/nowhere/*.png",
        "--output",
        str(output),
    ]
    if command == "export":
        args = [a for a in args if not a.startswith("--images") and a != "/nowhere/*.png"]
    result = subprocess.run(
        [sys.executable, "-m", "gad", *args],
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": SRC},
        timeout=120,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].endswith(f"{a_file} is a file, so no folder can be created under it.")
    assert "x.ckpt" not in result.stderr


# ------------------------------------------------------------------------- a run's manifest from anywhere else

from gad.data.references import ReferenceSelectionError, ReferenceSet  # noqa: E402


def manifest_in(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A manifest saved by a run made in ``folder`` with the dataset root given relative (``data/q``)."""
    monkeypatch.chdir(folder)
    for name in ("a.png", "b.png"):
        (folder / "data" / "q" / "widget" / "train" / "good").mkdir(parents=True, exist_ok=True)
        (folder / "data" / "q" / "widget" / "train" / "good" / name).write_bytes(b"png")
    chosen = ReferenceSet("q", "data/q", 2, 0, {"widget": ["widget/train/good/a.png", "widget/train/good/b.png"]})
    return chosen.save(folder / "run" / "references_q_k2_seed0.json")


def test_manifest_of_a_run_works_from_another_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "made_here").mkdir()
    manifest = manifest_in(tmp_path / "made_here", monkeypatch)
    assert json.loads(manifest.read_text())["root"] == str(tmp_path / "made_here" / "data" / "q")
    monkeypatch.chdir(tmp_path)
    paths = ReferenceSet.read(manifest).paths("widget")
    assert [p.read_bytes() for p in paths] == [b"png", b"png"]


def test_old_manifest_with_a_relative_root_says_which_root_it_expected(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "made_here").mkdir()
    manifest = manifest_in(tmp_path / "made_here", monkeypatch)
    fields = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**fields, "root": "data/q"}))  # as gad wrote it before
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(ReferenceSelectionError) as info:
        ReferenceSet.read(manifest)
    message = str(info.value)
    assert f"Manifest {manifest}" in message and "root 'data/q'" in message and str(elsewhere) in message
    assert "\n" not in message

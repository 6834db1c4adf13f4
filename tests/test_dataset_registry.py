"""The dataset registry: one ``DatasetSpec`` makes a dataset known to every ``gad data`` command and to configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonargparse import ArgumentParser

import gad.data.sources
from gad.cli import main
from gad.data.converters import MANIFEST_NAME, Converter, ELPVConverter
from gad.data.converters.base import Output
from gad.data.converters.common import images_in
from gad.data.registry import DATASETS, DatasetRegistry
from gad.data.sources import DataLayoutError, MVTecAD, SampleSource
from gad.data.sources.layouts import detect_layout
from gad.data.sources.prepared import prepared_reader
from gad.data.sources.spec import DatasetSpec, Signature
from tests.fixtures import raw_datasets as raw


class WidgetsConverter(Converter):
    """A toy download: ``ok/*.png`` normal (split 75/25), ``ng/*.png`` anomalous."""

    name = "widgets"
    raw_layout = "SRC/ok/*.png and SRC/ng/*.png"

    def convert(self, src: Path, out: Output) -> None:
        from gad.data.sources.splits import split_normals

        train, test = split_normals(images_in(src / "ok"), self.test_fraction, self.seed)
        for folder, images in (("train/good", train), ("test/good", test), ("test/defect", images_in(src / "ng"))):
            for image in images:
                out.copy(image, f"widgets/{folder}/{image.name}")


def is_raw_widgets(root: Path) -> bool:
    return (root / "ok").is_dir() and (root / "ng").is_dir()


Widgets = prepared_reader("Widgets", "widgets", category="widgets", defects="defect", masks=None, about="Toy widgets")
WIDGETS = DatasetSpec(
    "widgets",
    Widgets,
    "toy widgets for the registry test",
    converter=WidgetsConverter,
    mvtec_like=True,
    signature=Signature("the raw Widgets download (ok/, ng/)", is_raw_widgets),
)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> DatasetSpec:
    """``WIDGETS`` registered for one test (the registry is restored afterwards)."""
    monkeypatch.setattr(DATASETS, "specs", DATASETS.specs)
    DATASETS.register(WIDGETS)
    return WIDGETS


def write_raw_widgets(src: Path) -> None:
    for i in range(8):
        raw.image(src / "ok" / f"ok{i}.png", seed=i)
    for i in range(3):
        raw.image(src / "ng" / f"ng{i}.png", seed=10 + i)


def test_one_spec_makes_a_dataset_known_to_list_prepare_and_check(
    registered: DatasetSpec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["data", "list"])
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("widgets "))
    assert line.split()[:5] == ["widgets", "gad.data.sources.Widgets", "gad", "data", "prepare"]
    assert line.endswith("toy widgets for the registry test")
    write_raw_widgets(tmp_path / "raw")
    main(
        [
            "data",
            "prepare",
            "widgets",
            "--src",
            str(tmp_path / "raw"),
            "--dst",
            str(tmp_path / "out"),
            "--progress",
            "false",
        ]
    )
    assert f"Read it with gad.data.sources.Widgets(root={tmp_path / 'out'})" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / MANIFEST_NAME).read_text())["reader"] == "gad.data.sources.Widgets"
    main(["data", "check", "widgets", "--root", str(tmp_path / "out"), "--progress", "false"])
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("widgets"))
    assert row.split()[1:] == ["6", "2", "3", "0"]
    with pytest.raises(SystemExit, match=r"raw download; convert it first with `gad data prepare widgets"):
        main(["data", "check", "widgets", "--root", str(tmp_path / "raw"), "--progress", "false"])


def test_unregistered_dataset_is_unknown_to_the_commands(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["data", "check", "widgets", "--root", str(tmp_path)])
    with pytest.raises(AttributeError):
        gad.data.sources.Widgets  # noqa: B018 - resolved through the registry


def test_a_registered_signature_names_the_dataset_in_other_readers_errors(
    registered: DatasetSpec, tmp_path: Path
) -> None:
    write_raw_widgets(tmp_path / "raw")
    assert detect_layout(tmp_path / "raw")[0] == "widgets"
    with pytest.raises(DataLayoutError, match=r"looks like the raw Widgets download .*gad data prepare widgets"):
        MVTecAD(str(tmp_path / "raw")).samples()


def test_a_registered_reader_is_configurable_by_its_short_class_path(registered: DatasetSpec, tmp_path: Path) -> None:
    parser = ArgumentParser()
    parser.add_argument("--source", type=SampleSource)
    config = parser.parse_object(
        {"source": {"class_path": "gad.data.sources.Widgets", "init_args": {"root": str(tmp_path)}}}
    )
    method = getattr(parser, "instantiate", None) or parser.instantiate_classes
    assert type(method(config).source) is Widgets


def test_specific_signatures_are_tried_before_generic_ones(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    raw.write_mvtec(tmp_path / "mvtec", categories=("bottle",))
    assert detect_layout(tmp_path / "mvtec")[0] == "mvtec"
    bottles = DatasetSpec(
        "bottles", Widgets, "bottles", signature=Signature("bottles", lambda r: (r / "bottle").is_dir())
    )
    monkeypatch.setattr(DATASETS, "specs", DATASETS.specs)
    DATASETS.register(bottles)  # registered after mvtec, but specific
    assert detect_layout(tmp_path / "mvtec")[0] == "bottles"


def test_every_registered_reader_is_public_under_its_class_name() -> None:
    for spec in DATASETS:
        module, name = spec.reader_path.rsplit(".", 1)
        assert module == "gad.data.sources" and getattr(gad.data.sources, name) is spec.reader, spec.name


def test_names_readers_and_converters_must_agree() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        DatasetRegistry([WIDGETS, WIDGETS])
    with pytest.raises(ValueError, match="another reader is named MVTecAD"):
        DatasetRegistry([DATASETS["mvtec"], DatasetSpec("other", type("MVTecAD", (MVTecAD,), {}), "x")])
    with pytest.raises(ValueError, match="converter is named 'elpv'"):
        DatasetSpec("widgets2", Widgets, "x", converter=ELPVConverter)

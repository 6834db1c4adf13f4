"""Every reader is configurable by class path (as in the paper configs) and can serve in a target suite."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jsonargparse import ArgumentParser

from gad.data.datamodule import FewShotDataModule
from gad.data.preprocessing import Preprocessing
from gad.data.registry import DATASETS
from gad.data.sources import SampleSource
from tests.fixtures import raw_datasets as raw


def _instantiate(parser: ArgumentParser, config):
    """``instantiate`` (jsonargparse >= 4.49) or ``instantiate_classes`` (older)."""
    method = getattr(parser, "instantiate", None) or parser.instantiate_classes
    return method(config)


@pytest.mark.parametrize("name", DATASETS.names())
def test_reader_parses_from_class_path(name: str, tmp_path: Path) -> None:
    parser = ArgumentParser()
    parser.add_argument("--source", type=SampleSource)
    source_class = DATASETS[name].reader
    config = parser.parse_object(
        {
            "source": {
                "class_path": f"gad.data.sources.{source_class.__name__}",
                "init_args": {"root": str(tmp_path), "name": f"my_{name}"},
            }
        }
    )
    source = _instantiate(parser, config).source
    assert isinstance(source, source_class) and source.name == f"my_{name}"


def test_target_suite_of_several_readers_from_yaml(tmp_path: Path) -> None:
    raw.write_mvtec(tmp_path / "mvtec")
    raw.write_visa(tmp_path / "visa")
    raw.write_btad(tmp_path / "btad")
    raw.write_mnist_png(tmp_path / "mnist")
    config = yaml.safe_load(f"""
data:
  auxiliary:
    class_path: gad.data.sources.MVTecAD
    init_args: {{root: {tmp_path / "mvtec"}}}
  target:
    - class_path: gad.data.sources.VisA
      init_args: {{root: {tmp_path / "visa"}}}
    - class_path: gad.data.sources.BTAD
      init_args: {{root: {tmp_path / "btad"}, categories: [wood]}}
    - class_path: gad.data.sources.MNIST
      init_args: {{root: {tmp_path / "mnist"}, protocol: multi_class}}
  shots: 2
""")
    parser = ArgumentParser()
    parser.add_class_arguments(FewShotDataModule, "data")
    datamodule = _instantiate(parser, parser.parse_object(config)).data
    assert isinstance(datamodule, FewShotDataModule)
    datamodule.preprocessing = Preprocessing(16)
    assert [s.name for s in datamodule.sources("test")] == ["visa", "btad", "mnist"]
    loaders = datamodule.test_dataloader()
    assert [len(loader.dataset) for loader in loaders] == [8, 3, 20]
    assert loaders[2].dataset.with_masks is False and loaders[1].dataset.with_masks is True
    assert set(datamodule.reference_images("test", 1)) == {"wood"}
    assert len(datamodule.train_samples()) == 6

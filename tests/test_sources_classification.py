"""MNIST and CIFAR-10 under the InCTRL protocols: one-vs-all and multi-class."""

from __future__ import annotations

from pathlib import Path

import pytest

from gad.data.sources import CIFAR10, MNIST
from gad.errors import ConfigError
from tests.fixtures import raw_datasets as raw


def test_mnist_one_vs_all_from_kaggle_png(tmp_path: Path) -> None:
    raw.write_mnist_png(tmp_path / "kaggle")
    samples = MNIST(str(tmp_path / "kaggle")).samples()
    assert sorted(samples["category"].unique()) == [str(d) for d in range(10)]
    three = samples[samples["category"] == "3"]
    train, test = three[three["split"] == "train"], three[three["split"] == "test"]
    assert len(train) == 3 and train["path"].map(lambda p: Path(p).parent.name == "3").all()
    assert len(test) == 20 and (test["label"] == 0).sum() == 2
    assert set(test.loc[test["label"] == 1, "defect"]) == {str(d) for d in range(10) if d != 3}
    assert (test.loc[test["label"] == 0, "path"].map(lambda p: Path(p).parent.name) == "3").all()


def test_mnist_multi_class_even_digits_are_normal(tmp_path: Path) -> None:
    raw.write_mnist_png(tmp_path / "kaggle")
    samples = MNIST(str(tmp_path / "kaggle"), protocol="multi_class").samples()
    assert list(samples["category"].unique()) == ["even"]
    train = samples[samples["split"] == "train"]
    assert len(train) == 15 and set(train["path"].map(lambda p: int(Path(p).parent.name) % 2)) == {0}
    test = samples[samples["split"] == "test"]
    digits = test["path"].map(lambda p: int(Path(p).parent.name))
    assert ((digits % 2) == test["label"]).all() and len(test) == 20


def test_cifar10_protocols_from_kaggle_png(tmp_path: Path) -> None:
    raw.write_cifar_png(tmp_path / "kaggle")
    one = CIFAR10(str(tmp_path / "kaggle"), categories=["cat"]).samples()
    assert list(one["category"].unique()) == ["cat"] and (one["split"] == "train").sum() == 2
    assert ((one["split"] == "test") & (one["label"] == 1)).sum() == 18
    multi = CIFAR10(str(tmp_path / "kaggle"), protocol="multi_class", test_per_class=1).samples()
    assert list(multi["category"].unique()) == ["animal"]
    test = multi[multi["split"] == "test"]
    anomalous = set(test.loc[test["label"] == 1, "defect"])
    assert anomalous == {"airplane", "automobile", "ship", "truck"} and len(test) == 10
    assert (multi["split"] == "train").sum() == 12


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(ConfigError, match="protocol"):
        MNIST("x", protocol="leave_one_out")  # type: ignore[arg-type]

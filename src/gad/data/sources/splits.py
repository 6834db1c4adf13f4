"""The normal-image split of the InCTRL converters, reimplemented (scikit-learn's ``train_test_split``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from gad.errors import ConfigError

T = TypeVar("T")

SPLIT_RULE = (
    "normal images sorted by name, shuffled with numpy RandomState(seed).permutation; the first "
    "ceil(test_fraction * n) go to test/good, the rest to train/good (scikit-learn's train_test_split with "
    "test_size=test_fraction, random_state=seed, which the InCTRL converters use with 0.25 and 42)"
)


def split_normals(items: Sequence[T], test_fraction: float = 0.25, seed: int = 42) -> tuple[list[T], list[T]]:
    """``(train, test)``: the same partition as ``sklearn.model_selection.train_test_split(items,
    test_size=test_fraction, random_state=seed)`` (shuffle on), in the same order, without scikit-learn.

    The caller sorts ``items`` first, so the split does not depend on the order a file system lists files in.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ConfigError(f"test_fraction must be in [0, 1), got {test_fraction}")
    n = len(items)
    n_test = math.ceil(test_fraction * n)
    permutation = np.random.RandomState(seed).permutation(n)
    test = [items[i] for i in permutation[:n_test]]
    train = [items[i] for i in permutation[n_test:]]
    return train, test

"""Exact resume of a fit killed in the middle of an epoch.

A resumed fit must draw the same batches, the same synthetic anomalies and the same dropout masks as the run it
continues. Three things decide them: the global RNGs (torch draws each epoch's shuffle and loader seed from its
global generator; dropout uses it too), the training pipeline's counters (items are seeded by how many it has
built), and how far into the epoch the run was. ``ResumableLoader`` records the first two when each epoch starts;
a checkpoint stores that record, the number of batches trained in the epoch and the RNGs at save time. On resume
the loader replays the epoch's start, builds and drops the batches already trained, then puts the RNGs back to
where they were at the save.

Exact for ``num_workers: 0``. With worker processes the pipelines' counters live in the workers and are not
saved, so a resumed epoch draws other synthetic anomalies (the shuffle order is still the same).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader
from torch.utils.data.dataloader import _BaseDataLoaderIter


def rng_state() -> dict[str, Tensor]:
    """The torch, numpy and python global RNG states as tensors (checkpoints load with ``weights_only=True``)."""
    version, words, gauss = random.getstate()
    _, keys, position, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_rest": torch.tensor([position, has_gauss], dtype=torch.int64),
        "numpy_gauss": torch.tensor(cached, dtype=torch.float64),
        "python": torch.tensor(words, dtype=torch.int64),
        "python_rest": torch.tensor([version, gauss is not None], dtype=torch.int64),
        "python_gauss": torch.tensor(gauss or 0.0, dtype=torch.float64),
    }


def set_rng_state(state: dict[str, Tensor]) -> None:
    torch.set_rng_state(state["torch"])
    position, has_gauss = state["numpy_rest"].tolist()
    np.random.set_state(
        ("MT19937", state["numpy"].numpy().astype(np.uint32), position, has_gauss, float(state["numpy_gauss"]))
    )
    version, has_python_gauss = state["python_rest"].tolist()
    random.setstate(
        (version, tuple(state["python"].tolist()), float(state["python_gauss"]) if has_python_gauss else None)
    )


class ResumableLoader(DataLoader):
    """The training DataLoader: remembers how each epoch started, and can restart an epoch part-way through."""

    epoch_start: dict[str, Any] | None = None
    resume: dict[str, Any] | None = None
    """Set from a checkpoint: the next ``iter()`` continues the interrupted epoch (see ``resume_state``)."""

    def __iter__(self) -> _BaseDataLoaderIter:
        resume, self.resume = self.resume, None
        if resume is not None and resume["mid_epoch"]:
            set_rng_state(resume["epoch_start"]["rng"])
            self._load_counters(resume["epoch_start"]["counters"])
        elif resume is not None:
            set_rng_state(resume["rng"])
        self.epoch_start = {"rng": rng_state(), "counters": self._counters()}
        iterator = super().__iter__()
        if resume is not None and resume["mid_epoch"]:
            for _ in range(resume["trained"]):
                next(iterator)
            set_rng_state(resume["rng"])
        return iterator

    def resume_state(self, trained: int, total: int | float) -> dict[str, Any] | None:
        """What a checkpoint taken now needs to continue: ``trained`` of the epoch's ``total`` batches are done."""
        if self.epoch_start is None:
            return None
        return {
            "epoch_start": self.epoch_start,
            "trained": trained,
            "mid_epoch": 0 < trained < total,
            "rng": rng_state(),
        }

    def _counters(self) -> dict[str, int]:
        counters: dict[str, int] = {}
        for name, part in (("pipeline", getattr(self.dataset, "pipeline", None)), ("sampler", self.batch_sampler)):
            state_dict = getattr(part, "state_dict", None)
            if state_dict is not None:
                counters |= {f"{name}.{key}": value for key, value in state_dict().items()}
        return counters

    def _load_counters(self, counters: dict[str, int]) -> None:
        for name, part in (("pipeline", getattr(self.dataset, "pipeline", None)), ("sampler", self.batch_sampler)):
            load_state_dict = getattr(part, "load_state_dict", None)
            if load_state_dict is not None:
                load_state_dict({k.split(".", 1)[1]: v for k, v in counters.items() if k.startswith(f"{name}.")})

"""Measuring tools of the speed benchmarks: wall time, peak memory, precision and machine load, per device.

Every figure is taken the same way on CPU and GPU, so that a CPU run exercises the code paths a GPU run uses:
``autocast`` picks the device type, ``synchronize`` is a no-op on CPU, and ``PeakMemory`` reads
``torch.cuda.max_memory_allocated`` on CUDA and the process's peak resident set (``VmHWM``, reset through
``/proc/self/clear_refs``) on Linux CPUs.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Mixed precision for ``precision`` on ``device`` (fp32: autocast disabled)."""
    dtype = PRECISIONS[precision]
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a wall time covers it (nothing to wait for on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the best and the median wall time of the timed repeats (the best is the least disturbed
    by other processes sharing the machine), the best CPU time of this process (all its threads: with one thread
    it is the compute time whatever the machine's load), and the 1-minute load average after the last call."""

    best: float
    median: float
    cpu: float
    load: float


def time_calls(function: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1) -> Timing:
    """Wall time of ``function()`` over ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        function()
    synchronize(device)
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        synchronize(device)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return Timing(best=min(times), median=statistics.median(times), cpu=min(cpu), load=os.getloadavg()[0])


def time_pairs(
    reference: Callable[[], object], function: Callable[[], object], device: torch.device, repeats: int
) -> tuple[Timing, Timing]:
    """``reference()`` and ``function()`` timed alternately, so that both see the same machine: on a shared one,
    the load (and, with CPU time, a busy sibling hyper-thread) changes from one second to the next."""
    pairs = [
        time_calls(call, device, 1, warmup=int(index == 0))
        for index in range(repeats)
        for call in (reference, function)
    ]
    return _merge(pairs[0::2]), _merge(pairs[1::2])


def _merge(timings: list[Timing]) -> Timing:
    best = [t.best for t in timings]
    return Timing(min(best), statistics.median(best), min(t.cpu for t in timings), timings[-1].load)


class PeakMemory:
    """Peak memory in bytes of what runs inside ``with PeakMemory(device) as peak:``; ``peak.bytes`` after it.

    CUDA: the allocator's peak (tensors, weights included). CPU: the peak resident set of the process, after
    resetting the kernel's high-water mark; ``None`` where that mark cannot be reset (not Linux).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.bytes: int | None = None

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._resettable = _reset_peak_rss()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.bytes = torch.cuda.max_memory_allocated(self.device)
        elif self._resettable:
            self.bytes = _status_kib("VmHWM") * 1024


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kib("VmHWM") > 0
    except OSError:
        return False


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0

"""Speed of DictAS, InCTRL and WinCLIP next to the bare CLIP forward they are built on, in one run on one machine.

    python benchmarks/speed.py dictas                        # ViT-L-14-336, K = 1, 4, 16, batch 1, fp32, CPU
    python benchmarks/speed.py inctrl                        # ViT-B-16-plus-240 at 240 px, K = 2, 4, 8
    python benchmarks/speed.py dictas --device cuda --precision bf16 --batch 32
    python benchmarks/speed.py dictas --parts lookup         # the sparsemax lookup alone, sort-based vs top-k
    python benchmarks/speed.py dictas --parts data --workers 0 2   # training samples/s from 1000 px JPEGs
    python benchmarks/speed.py dictas --clip gad-tiny-vit-l --image-size 112 --shots 1 2   # seconds, for tests
    python benchmarks/speed.py winclip --batch 8             # ViT-B-16-plus-240 at 240 px, K = 0, 1, 4 (no training)

Random weights (nothing is downloaded): speed does not depend on the values, only on the shapes. Parts:

- backbone: ``ClipBackbone`` forward of the tapped layers at batch 1 and ``--batch``, and the full forward with
  the image embedding;
- inference: ``model(images, category)`` after ``set_references`` (timed once, per category), per K, timed
  alternately with the backbone forward of the tapped layers on the same images, the reference of ``x ref``;
- sets: the one-pass sweep (``gad test --shots 1 2 4 --seeds 0 1 2``): ``encode_queries`` (backbone and the
  reference-independent work, once per batch) and, per K, ``score`` of those encoded queries against one more
  reference set, both against the backbone forward of the same images, with the size of one set's encoded
  references;
- train: one optimisation step (``training_step``, backward, optimiser) on a batch of ``--train-batch`` queries,
  against the backbone forward of the same images (queries and their supports);
- generators (DictAS): the per-image work of g_V and g_Q at inference, apart;
- lookup: the sparsemax dictionary lookup of one layer and scale (N queries against K x N keys), the exact
  sort-based path against the top-k path, checked equal;
- windows (WinCLIP): the window embeddings of each scale (one transformer pass over all its windows), against the
  full forward with the image embedding of the same images, and the same windows one pass per window;
- data: training items per second of the method's training pipeline, from ``--data-side`` px JPEG files, with
  each of ``--workers`` (0: in the main process, one thread: the figure per CPU core).

Timings are the best of ``--repeats`` after a warm-up, with the 1-minute load average of the machine. Wall time
and CPU time of the process are both reported: on a machine shared with other jobs (load above the number of
cores), run with ``--threads 1`` and read the CPU-time ratios, which do not depend on the load. Peak memory: CUDA allocator peak on GPU, peak
resident set of the process on CPU (weights included in both).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import PRECISIONS, PeakMemory, Timing, autocast, synchronize, time_calls, time_pairs  # noqa: E402

from gad.data.batch import Batch, collate_batch  # noqa: E402
from gad.data.dataset import PipelineDataset, TrainingPipeline  # noqa: E402
from gad.data.preprocessing import Preprocessing  # noqa: E402
from gad.data.synthesis import ProceduralTextures  # noqa: E402
from gad.models.base import FewShotAnomalyModule  # noqa: E402
from gad.models.components.clip_backbone import ClipConfig  # noqa: E402
from gad.models.dictas import lookup as lookup_module  # noqa: E402
from gad.models.dictas.lookup import lookup  # noqa: E402
from gad.models.winclip.window_encoder import window_embeddings  # noqa: E402

CATEGORY = "brick"
METHODS = {
    # method: (LightningModule path, CLIP, tapped layers, image size, shots, training shots, training pipeline)
    "dictas": (
        "gad.models.dictas.DictAS",
        "ViT-L-14-336",
        [6, 12, 18, 24],
        336,
        [1, 4, 16],
        1,
        "gad.models.dictas.training_data.DictASTrainingPipeline",
    ),
    "inctrl": (
        "gad.models.inctrl.InCTRL",
        "ViT-B-16-plus-240",
        [7, 9, 11],
        240,
        [2, 4, 8],
        2,
        "gad.models.inctrl.InCTRLTrainingPipeline",
    ),
    "winclip": ("gad.models.winclip.WinCLIP", "ViT-B-16-plus-240", [12], 240, [0, 1, 4], 0, None),
}
PARTS = ("backbone", "inference", "sets", "train", "generators", "lookup", "windows", "data")


@dataclass
class Row:
    """One line of the report: a timing of ``items`` images (or samples) per call, and the reference's timing
    per item for the ratio (the bare backbone, or the exact lookup)."""

    part: str
    what: str
    timing: Timing | None = None
    items: int = 1
    memory: int | None = None
    reference: Timing | None = None
    reference_items: int = 1
    note: str = ""
    load: float = field(default_factory=lambda: os.getloadavg()[0])


def once(seconds: float) -> Timing:
    """A single wall-time measurement (what is too slow to repeat)."""
    return Timing(best=seconds, median=seconds, cpu=math.nan, load=os.getloadavg()[0])


def _import(path: str) -> type:
    module, name = path.rsplit(".", 1)
    return getattr(__import__(module, fromlist=[name]), name)


def build(args: argparse.Namespace) -> FewShotAnomalyModule:
    """The method's LightningModule with a random-weight CLIP, on the device, in eval mode."""
    module_path, *_ = METHODS[args.method]
    config = ClipConfig(model_name=args.clip, pretrained=None, layers=args.layers, image_size=args.image_size)
    options = {"sparsemax_topk": args.sparsemax_topk or None} if args.method == "dictas" else {}
    torch.manual_seed(0)
    return _import(module_path)(backbone=config, **options).to(args.device).eval()


def images(count: int, side: int, device: torch.device, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, 3, side, side, generator=torch.Generator().manual_seed(seed)).to(device)


def timed(function: Callable[[], object], args: argparse.Namespace) -> tuple[Timing, int | None]:
    """Best time and peak memory of ``function`` under the run's precision, without autograd."""
    with torch.inference_mode(), autocast(args.device, args.precision), PeakMemory(args.device) as peak:
        timing = time_calls(function, args.device, args.repeats)
    return timing, peak.bytes


def timed_against(
    reference: Callable[[], object], function: Callable[[], object], args: argparse.Namespace
) -> tuple[Timing, Timing, int | None]:
    """``function`` and its ``reference`` timed alternately (``time_pairs``), and the peak memory of both."""
    with torch.inference_mode(), autocast(args.device, args.precision), PeakMemory(args.device) as peak:
        base, timing = time_pairs(reference, function, args.device, args.repeats)
    return base, timing, peak.bytes


def backbone_rows(module: FewShotAnomalyModule, args: argparse.Namespace) -> list[Row]:
    backbone, side = module.model.backbone, args.image_size
    rows = []
    for batch in sorted({1, args.batch}):
        x = images(batch, side, args.device)
        timing, memory = timed(lambda x=x: backbone(x), args)
        rows.append(Row("backbone", f"tapped layers {list(backbone.layers)}, batch {batch}", timing, batch, memory))
    x = images(1, side, args.device)
    timing, memory = timed(lambda: backbone(x, embedding=True), args)
    rows.append(Row("backbone", "all layers + image embedding, batch 1", timing, 1, memory))
    return rows


class ExactRowCounter:
    """Share of lookup rows the top-k sparsemax answers without its exact fallback (DictAS inference)."""

    def __init__(self) -> None:
        self.exact, self.rows = 0, 0
        self._original = lookup_module.sparsemax_topk

    def __call__(self, scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        weights, indices, exact = self._original(scores, k)
        self.exact += int(exact.sum())
        self.rows += exact.numel()
        return weights, indices, exact

    def share(self) -> str:
        return f"top-k exact on {100 * self.exact / self.rows:.1f} % of rows" if self.rows else ""


def inference_rows(module: FewShotAnomalyModule, args: argparse.Namespace) -> list[Row]:
    """Per K: ``set_references`` once, then queries timed alternately with the backbone forward of the same
    images (the reference of the row's ratio)."""
    model, rows = module.model, []
    for shots in args.shots:
        start = time.perf_counter()
        with torch.inference_mode(), autocast(args.device, args.precision):
            model.set_references(CATEGORY, images(shots, args.image_size, args.device, seed=1))
        synchronize(args.device)
        rows.append(
            Row("inference", f"K={shots}: set_references (once per category)", once(time.perf_counter() - start), shots)
        )
        for batch in sorted({1, args.batch}):
            x = images(batch, args.image_size, args.device, seed=2)
            counter = ExactRowCounter()
            lookup_module.sparsemax_topk = counter
            try:
                base, timing, memory = timed_against(
                    lambda x=x: model.backbone(x), lambda x=x: model(x, CATEGORY), args
                )
            finally:
                lookup_module.sparsemax_topk = counter._original
            alongside = f"backbone alongside: {base.best * 1e3:.0f} ms, {base.cpu * 1e3:.0f} ms CPU"
            rows.append(
                Row(
                    "inference",
                    f"K={shots}, batch {batch}",
                    timing,
                    batch,
                    memory,
                    base,
                    batch,
                    "; ".join(filter(None, [counter.share(), alongside])),
                )
            )
        model.clear_references()
    return rows


def tensor_bytes(value: object) -> int:
    """Bytes of the tensors in an encoded reference set (a dataclass, dict, list or tensor, nested)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(v) for v in value)
    return sum(tensor_bytes(v) for v in getattr(value, "__dict__", {}).values())


def set_rows(module: FewShotAnomalyModule, args: argparse.Namespace) -> list[Row]:
    """The one-pass sweep's costs: ``encode_queries`` once per batch, then per K the marginal cost of one more
    reference set (``score`` of the encoded queries against it), each timed alternately with the backbone
    forward of the same images; and the size of one set's encoded references (what a sweep keeps per set of
    the category being tested)."""
    model, rows = module.model, []
    for batch in sorted({1, args.batch}):
        x = images(batch, args.image_size, args.device, seed=2)
        base, timing, memory = timed_against(lambda x=x: model.backbone(x), lambda x=x: model.encode_queries(x), args)
        rows.append(Row("sets", f"encode_queries, batch {batch} (once per batch)", timing, batch, memory, base, batch))
        for shots in args.shots:
            with torch.inference_mode(), autocast(args.device, args.precision):
                references = model.encode_references(images(shots, args.image_size, args.device, seed=1), CATEGORY)
                queries = model.encode_queries(x)
                model.score(queries, references, CATEGORY)  # DictAS: g_V, pooling and g_Q run here, once
            size = tensor_bytes(references) / 2**20
            base, timing, memory = timed_against(
                lambda x=x: model.backbone(x), lambda q=queries, r=references: model.score(q, r, CATEGORY), args
            )
            note = f"one more set; its encoded references {size:.1f} MB"
            rows.append(Row("sets", f"K={shots}, batch {batch}: score", timing, batch, memory, base, batch, note))
    return rows


def training_batch(args: argparse.Namespace, shots: int) -> Batch:
    batch, side = args.train_batch, args.image_size
    label = torch.arange(batch) % 2
    mask = torch.zeros(batch, 1, side, side)
    mask[label == 1, :, side // 4 : side // 2, side // 4 : side // 2] = 1
    return Batch(
        image=images(batch, side, args.device, seed=3),
        label=label.to(args.device),
        mask=mask.to(args.device),
        category=[CATEGORY] * batch,
        defect=["x"] * batch,
        path=["p"] * batch,
        support=images(batch * shots, side, args.device, seed=4).unflatten(0, (batch, shots)),
    )


def training_rows(module: FewShotAnomalyModule, args: argparse.Namespace) -> list[Row]:
    """One optimisation step through the LightningModule's own ``training_step`` (its ``self.log`` calls are
    no-ops without a Trainer), against the backbone forward of the same query and support images."""
    shots = METHODS[args.method][5]
    batch = training_batch(args, shots)
    optimizers = module.configure_optimizers()
    optimizer = optimizers["optimizer"] if isinstance(optimizers, dict) else optimizers
    module.train()

    def step() -> None:
        with autocast(args.device, args.precision):
            loss = module.training_step(batch, 0)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    with warnings.catch_warnings(), PeakMemory(args.device) as peak:
        warnings.simplefilter("ignore")  # self.log without a Trainer
        timing = time_calls(step, args.device, args.repeats)
    module.eval()
    everything = torch.cat([batch.image, batch.support.flatten(0, 1)])
    forward, _ = timed(lambda: module.model.backbone(everything), args)
    samples = args.train_batch
    return [
        Row(
            "train",
            f"backbone forward of {len(everything)} images ({samples} queries + {shots} shots each)",
            forward,
            samples,
        ),
        Row("train", f"training step, batch {samples}, {shots} shot(s)", timing, samples, peak.bytes, forward, samples),
    ]


def lookup_rows(module: FewShotAnomalyModule, args: argparse.Namespace) -> list[Row]:
    """Gaussian queries and keys of the backbone's shapes: scores q.k / sqrt(C) ~ N(0, 1), values unit normal."""
    backbone = module.model.backbone
    queries, width = math.prod(backbone.grid), backbone.width
    topk = args.sparsemax_topk or 64
    rows = []
    for shots in args.shots:
        generator = torch.Generator().manual_seed(shots)
        q = torch.randn(args.batch, queries, width, generator=generator).to(args.device)
        k, v = (torch.randn(1, shots * queries, width, generator=generator).to(args.device) for _ in range(2))
        with torch.inference_mode():
            exact, fast = lookup(q, k, v, "sparse", topk=None), lookup(q, k, v, "sparse", topk=topk)
            difference = float((exact - fast).abs().max())
        what = f"{queries} queries x {shots}x{queries} keys x C={width}, batch {args.batch}"
        plain, top, memory = timed_against(
            lambda: lookup(q, k, v, "sparse", topk=None), lambda: lookup(q, k, v, "sparse", topk=topk), args
        )
        rows.append(Row("lookup", f"{what}: sort-based", plain, args.batch))
        rows.append(
            Row(
                "lookup",
                f"{what}: top-{topk}",
                top,
                args.batch,
                memory,
                plain,
                args.batch,
                f"{plain.best / top.best:.1f}x faster, max abs difference {difference:.1e}",
            )
        )
    return rows


def generator_rows(module: FewShotAnomalyModule, args: argparse.Namespace) -> list[Row]:
    """DictAS's per-image generator work at inference, apart: g_V on every layer's tokens, g_Q (without its
    output map, folded into the keys) on every layer and scale, for ``--batch`` images."""
    model = module.model
    layers, scales = len(model.backbone.layers), len(model.scales)
    tokens = torch.randn(layers * args.batch, math.prod(model.backbone.grid), model.backbone.width).to(args.device)
    value, _ = timed(lambda: model.generators.value(tokens), args)
    pooled = torch.cat([tokens] * scales)
    query, _ = timed(lambda: model.generators.query.hidden(pooled), args)
    return [
        Row("generators", f"g_V on {layers} layers x {tokens.shape[1]} tokens, batch {args.batch}", value, args.batch),
        Row("generators", f"g_Q on {layers} layers x {scales} scales, batch {args.batch}", query, args.batch),
    ]


def window_rows(module: FewShotAnomalyModule, args: argparse.Namespace) -> list[Row]:
    """WinCLIP's window embeddings, per scale: all windows of ``--batch`` images in one transformer pass, against
    the full forward with the image embedding of the same images; then the first 16 windows of one image one pass
    each (the per-window rate, against the batched one's)."""
    backbone, rows = module.model.backbone, []
    x = images(args.batch, args.image_size, args.device, seed=5)
    for size, masks in zip(module.model.scales, module.model.masks):
        base, timing, memory = timed_against(
            lambda: backbone(x, embedding=True), lambda masks=masks: window_embeddings(backbone, x, [masks]), args
        )
        what = f"{size}x{size} windows: all {len(masks)} per image in one pass, batch {args.batch}"
        rows.append(Row("windows", what, timing, args.batch, memory, base, args.batch, "x ref: the full forward"))
        single = [masks[i : i + 1] for i in range(min(16, len(masks)))]
        each, _ = timed(lambda single=single: [window_embeddings(backbone, x[:1], [m]) for m in single], args)
        rate = (each.cpu / len(single)) / (timing.cpu / (args.batch * len(masks)))
        what = f"{size}x{size} windows: one pass per window ({len(single)} of them), batch 1"
        rows.append(Row("windows", what, each, len(single), note=f"{rate:.1f}x the batched CPU time per window"))
    return rows


def write_jpegs(folder: Path, count: int, side: int) -> list[str]:
    """Procedural textures as JPEG files (quality 90), the stand-in for dataset images."""
    rng, textures, paths = np.random.default_rng(0), ProceduralTextures(), []
    for index in range(count):
        path = folder / f"{index:03d}.jpg"
        cv2.imwrite(
            str(path),
            cv2.cvtColor(textures.texture((side, side), rng), cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, 90],
        )
        paths.append(str(path))
    return paths


def _single_threaded(_: int = 0) -> None:
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def data_rows(args: argparse.Namespace) -> list[Row]:
    """Samples per second of the training pipeline through a DataLoader; the first batch (worker start-up) is
    not timed. Each worker, and the main process for ``--workers 0``, runs single-threaded."""
    *_, training_shots, pipeline_path = METHODS[args.method]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        paths = write_jpegs(Path(folder), args.data_files, args.data_side)
        count = args.data_samples
        samples = pd.DataFrame(
            {
                "path": [paths[i % len(paths)] for i in range(count)],
                "category": CATEGORY,
                "split": "train",
                "label": [int(args.method == "inctrl" and i % 4 == 3) for i in range(count)],
                "defect": "good",
                "mask_path": None,
            }
        )
        pipeline: TrainingPipeline = _import(pipeline_path)()
        preprocessing = Preprocessing(args.image_size, "shorter_side" if args.method == "inctrl" else "squash")
        dataset = PipelineDataset(samples, preprocessing, pipeline)
        threads = torch.get_num_threads()
        for workers in args.workers:
            if workers == 0:
                _single_threaded()
            loader = DataLoader(
                dataset,
                batch_size=args.data_batch,
                num_workers=workers,
                collate_fn=collate_batch,
                worker_init_fn=_single_threaded if workers else None,
            )
            iterator = iter(loader)
            next(iterator)
            start, cpu = time.perf_counter(), time.process_time()
            timed_samples = sum(len(batch) for batch in iterator)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            note = f"{timed_samples} samples timed"
            if workers == 0:  # single-threaded in this process: CPU time gives the rate per core, whatever the load
                note += f", {timed_samples / cpu:.1f} samples per CPU second"
            torch.set_num_threads(threads)
            cv2.setNumThreads(-1)
            rows.append(
                Row(
                    "data",
                    f"{args.method} training items from {args.data_side} px JPEGs, "
                    f"{workers} workers ({training_shots} support image(s) each)",
                    Timing(seconds, seconds, cpu, os.getloadavg()[0]),
                    timed_samples,
                    note=note,
                )
            )
    return rows


COLUMNS = ("part", "what", "ms / call", "items / s", "CPU ms / call", "peak MB", "x ref", "x ref CPU", "load", "note")


def cells(row: Row) -> list[str]:
    """The report columns of a row. ``x ref``: wall time per item over the reference's (lower is faster);
    ``x ref CPU``: the same with CPU times (with ``--threads 1``, the ratio of compute, whatever the load)."""
    timing, reference = row.timing, row.reference

    def ratio(value: float, base: float) -> str:
        return f"{(value / row.items) / (base / row.reference_items):.3f}" if reference and base > 0 else ""

    return [
        row.part,
        row.what,
        f"{timing.best * 1e3:.1f}" if timing else "",
        f"{row.items / timing.best:.2f}" if timing else "",
        f"{timing.cpu * 1e3:.1f}" if timing and not math.isnan(timing.cpu) else "",
        f"{row.memory / 2**20:.0f}" if row.memory is not None else "",
        ratio(timing.best, reference.best) if timing and reference else "",
        ratio(timing.cpu, reference.cpu) if timing and reference and not math.isnan(timing.cpu) else "",
        f"{(timing.load if timing else row.load):.2f}",
        row.note,
    ]


def progress(rows: list[Row]) -> list[Row]:
    """Print rows as soon as a part is measured (a full-size CPU run takes minutes), and pass them on."""
    for row in rows:
        print(" | ".join(cells(row)), flush=True)
    return rows


def report(rows: list[Row], args: argparse.Namespace) -> None:
    table = Table(
        title=f"{args.method} {args.clip} @ {args.image_size} px, {args.precision}, {args.device}, "
        f"{torch.get_num_threads()} threads"
    )
    for name in COLUMNS:
        table.add_column(name, justify="left" if name in ("part", "what", "note") else "right")
    for row in rows:
        table.add_row(*cells(row))
    Console(width=200).print(table)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("method", choices=sorted(METHODS))
    parser.add_argument("--clip", help="open_clip model name (default: the paper's)")
    parser.add_argument("--layers", type=int, nargs="+", help="tapped 1-based layers (default: the paper's)")
    parser.add_argument("--image-size", type=int, help="input side in px (default: the paper's)")
    parser.add_argument(
        "--shots", type=int, nargs="+", help="K values (default: DictAS 1 4 16, InCTRL 2 4 8, WinCLIP 0 1 4)"
    )
    parser.add_argument("--batch", type=int, default=1, help="throughput batch, besides batch 1 (default 1)")
    parser.add_argument("--train-batch", type=int, default=2)
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default="fp32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--sparsemax-topk", type=int, default=64, help="DictAS top-k lookup; 0: exact sort-based")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="DataLoader workers for 'data'")
    parser.add_argument("--data-files", type=int, default=8, help="distinct JPEG files for 'data'")
    parser.add_argument("--data-side", type=int, default=1000)
    parser.add_argument("--data-samples", type=int, default=48)
    parser.add_argument("--data-batch", type=int, default=8)
    args = parser.parse_args(argv)
    _, clip, layers, size, shots, *_ = METHODS[args.method]
    args.clip, args.layers = args.clip or clip, args.layers or layers
    args.image_size, args.shots = args.image_size or size, args.shots or shots
    args.device = torch.device(args.device)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        run(args)
    finally:
        torch.set_num_threads(threads)


def run(args: argparse.Namespace) -> None:
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{torch.get_num_threads()} threads, load {os.getloadavg()}",
        flush=True,
    )
    rows: list[Row] = []
    module = build(args) if set(args.parts) - {"data"} else None
    if module is not None and "backbone" in args.parts:
        rows += progress(backbone_rows(module, args))
    if module is not None and "inference" in args.parts:
        rows += progress(inference_rows(module, args))
    if module is not None and "sets" in args.parts:
        rows += progress(set_rows(module, args))
    trains = METHODS[args.method][6] is not None  # WinCLIP has nothing to train
    if module is not None and "train" in args.parts and trains:
        rows += progress(training_rows(module, args))
    if module is not None and "generators" in args.parts and args.method == "dictas":
        rows += progress(generator_rows(module, args))
    if module is not None and "lookup" in args.parts and args.method == "dictas":
        rows += progress(lookup_rows(module, args))
    if module is not None and "windows" in args.parts and args.method == "winclip":
        rows += progress(window_rows(module, args))
    if "data" in args.parts and trains:
        rows += progress(data_rows(args))
    report(rows, args)


if __name__ == "__main__":
    main()

"""Arguments shared by ``gad predict`` (folder mode) and ``gad export``: which checkpoint, references, threshold."""

from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from jsonargparse import ArgumentParser, Namespace

from gad.runs import latest_run, run_checkpoint
from gad.data.prompt_files import prompt_file_for
from gad.data.references import ReferenceSelectionError, ReferenceSet
from gad.errors import ConfigError
from gad.inference import Detector
from gad.inference.detector import DEFAULT_CATEGORY
from gad.inference.inputs import expand_paths
from gad.inference.threshold import check_fpr, too_few_normals_message

DEFAULT_FPR = 0.01
DEFAULT_PIXEL_FPR = 0.01


def add_detector_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--ckpt_path", type=str | None, default=None, help="a checkpoint written by gad fit")
    parser.add_argument("--run", type=str | None, default=None, help="a run folder (its best checkpoint)")
    parser.add_argument(
        "--references",
        nargs="+",
        required=True,
        help="normal reference images: files, folders, globs, one references manifest (.json) of a run, or an "
        "InCTRL prompt file (<category>.pt) or folder of them",
    )
    parser.add_argument(
        "--category",
        type=str | None,
        default=None,
        help=f"the product's name for the text prompts (default: the manifest's category, else {DEFAULT_CATEGORY!r})",
    )
    parser.add_argument(
        "--threshold", type=float | None, default=None, help="decision threshold: score > it is anomalous"
    )
    parser.add_argument(
        "--calibration",
        nargs="+",
        default=None,
        help="held-out normal images (not the references) to choose the threshold from, at --fpr",
    )
    parser.add_argument(
        "--fpr",
        type=float | None,
        default=None,
        help=f"share of the --calibration normals flagged by the chosen threshold (default {DEFAULT_FPR})",
    )
    parser.add_argument(
        "--pixel_fpr",
        type=float,
        default=DEFAULT_PIXEL_FPR,
        help="with --calibration: share of the calibration normals' pixels above the pixel threshold, which makes "
        "the predicted masks",
    )
    parser.add_argument("--allow_mixed_sizes", type=bool, default=False, help="accept images of different sizes")
    parser.add_argument("--device", type=str | None, default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--progress", type=bool, default=True, help="show a progress bar")


def checkpoint_of(args: Namespace, command: str) -> Path:
    """--ckpt_path, else --run's best checkpoint, else the most recent run's (said on stderr)."""
    if args.ckpt_path:
        return Path(args.ckpt_path)
    if args.run:
        return run_checkpoint(Path(args.run))
    folder, checkpoint = latest_run()
    print(f"gad {command}: using the most recent run {folder} (checkpoint {checkpoint})", file=sys.stderr)
    return checkpoint


@dataclass(frozen=True)
class DetectorRequest:
    """What the arguments ask for, every path and value checked, nothing loaded yet."""

    checkpoint: Path
    references: list[Path] | Path
    category: str
    calibration: list[Path] | None
    fpr: float


def check_detector_arguments(args: Namespace, command: str) -> DetectorRequest:
    """Refuse contradictory or impossible arguments before the model is loaded or any image is scored."""
    if args.threshold is not None and args.calibration:
        raise ConfigError("Give either --threshold or --calibration (with --fpr), not both.")
    if args.threshold is not None and not math.isfinite(args.threshold):
        raise ConfigError(f"--threshold must be a finite score, got {args.threshold}.")
    if args.fpr is not None and not args.calibration:
        raise ConfigError(
            "--fpr is the share of the --calibration images to flag: give held-out normal images with "
            "--calibration, or a fixed --threshold instead."
        )
    fpr = DEFAULT_FPR if args.fpr is None else args.fpr
    check_fpr(fpr, "--fpr")
    check_fpr(args.pixel_fpr, "--pixel_fpr")
    if args.batch_size < 1:
        raise ConfigError(f"--batch_size must be at least 1, got {args.batch_size}.")
    specs, category = _references(args.references, args.category)
    # an InCTRL prompt file is used as it is
    references = specs if isinstance(specs, Path) else expand_paths(specs, "--references")
    calibration = expand_paths(args.calibration, "--calibration") if args.calibration else None
    return DetectorRequest(checkpoint_of(args, command), references, category, calibration, fpr)


def load_detector(args: Namespace, request: DetectorRequest, command: str) -> Detector:
    """The detector of checked arguments, its references set and its threshold chosen."""
    detector = Detector.from_checkpoint(
        request.checkpoint,
        device=args.device,
        batch_size=args.batch_size,
        allow_mixed_sizes=args.allow_mixed_sizes,
    )
    detector.set_references(request.references, request.category)
    if args.threshold is not None:
        detector.set_threshold(args.threshold)
    elif request.calibration:
        with warnings.catch_warnings():  # said below, in one line
            warnings.filterwarnings("ignore", r".*held-out normal images are too few")
            chosen = detector.calibrate(request.calibration, request.fpr, args.progress, args.pixel_fpr)
        if chosen.too_few_normals:
            print(f"gad {command}: warning: {too_few_normals_message(chosen)}", file=sys.stderr)
        else:
            print(
                f"gad {command}: threshold {chosen.value:.6g} flags at most {request.fpr:.3g} of {chosen.normals} "
                "held-out normal images",
                file=sys.stderr,
            )
    return detector


def _references(specs: list[str], category: str | None) -> tuple[list[str] | Path, str]:
    """Image specs and category, or an InCTRL prompt file (a ``.pt`` file, named by its category, or its
    ``<category>.pt`` in a folder); a single ``.json`` is a references manifest written by gad test/predict."""
    if len(specs) == 1 and not specs[0].endswith(".json"):
        prompts = prompt_file_for(specs[0], category or Path(specs[0]).stem)
        if prompts is not None:
            return prompts, category or prompts.stem
    if len(specs) != 1 or not specs[0].endswith(".json"):
        return specs, category or DEFAULT_CATEGORY
    manifest = ReferenceSet.read(specs[0])
    if category is None and len(manifest.references) == 1:
        category = next(iter(manifest.references))
    if category not in manifest.references:
        raise ReferenceSelectionError(
            f"--references {specs[0]}: pass --category, one of {sorted(manifest.references)}"
            + (f" ({category!r} is not among them)." if category else ".")
        )
    if category in manifest.prompt_files:
        return Path(manifest.prompt_files[category]), category
    return [str(p) for p in manifest.paths(category)], category

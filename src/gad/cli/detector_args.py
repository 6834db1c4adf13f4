"""Arguments shared by ``gad predict`` (folder mode) and ``gad export``: which checkpoint, references, threshold."""

from __future__ import annotations

import sys
from pathlib import Path

from jsonargparse import ArgumentParser, Namespace

from gad.runs import latest_run, run_checkpoint
from gad.data.references import ReferenceSelectionError, ReferenceSet
from gad.errors import ConfigError
from gad.inference import Detector
from gad.inference.detector import DEFAULT_CATEGORY
from gad.inference.inputs import expand_paths


def add_detector_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--ckpt_path", type=str | None, default=None, help="a checkpoint written by gad fit")
    parser.add_argument("--run", type=str | None, default=None, help="a run folder (its best checkpoint)")
    parser.add_argument(
        "--references", nargs="+", required=True,
        help="normal reference images: files, folders, globs, or one references manifest (.json) of a run",
    )
    parser.add_argument(
        "--category", type=str | None, default=None,
        help=f"the product's name for the text prompts (default: the manifest's category, else {DEFAULT_CATEGORY!r})",
    )
    parser.add_argument("--threshold", type=float | None, default=None, help="decision threshold: score > it is anomalous")
    parser.add_argument(
        "--calibration", nargs="+", default=None,
        help="held-out normal images (not the references) to choose the threshold from, at --fpr",
    )
    parser.add_argument("--fpr", type=float, default=0.01, help="share of normal images flagged by the chosen threshold")
    parser.add_argument("--center_crop", type=bool | None, default=None, help="default: as the run's data config")
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


def detector_from_args(args: Namespace, command: str) -> tuple[Detector, Path]:
    """The detector of the arguments, its references set and its threshold chosen; and its checkpoint."""
    if args.threshold is not None and args.calibration:
        raise ConfigError("Give either --threshold or --calibration (with --fpr), not both.")
    references, category = _references(args.references, args.category)
    references = expand_paths(references, "--references")  # bad paths fail before the model is built
    checkpoint = checkpoint_of(args, command)
    detector = Detector.from_checkpoint(
        checkpoint, center_crop=args.center_crop, device=args.device, batch_size=args.batch_size,
        allow_mixed_sizes=args.allow_mixed_sizes,
    )
    detector.set_references(references, category)
    if args.threshold is not None:
        detector.set_threshold(args.threshold)
    elif args.calibration:
        chosen = detector.calibrate(expand_paths(args.calibration, "--calibration"), args.fpr, progress=args.progress)
        print(f"gad {command}: threshold {chosen.value:.6g} flags at most {args.fpr:.3g} of {chosen.normals} "
              "held-out normal images", file=sys.stderr)
    return detector, checkpoint


def _references(specs: list[str], category: str | None) -> tuple[list[str], str]:
    """Image specs and category; a single ``.json`` is a references manifest written by gad test/predict."""
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
    return [str(p) for p in manifest.paths(category)], category

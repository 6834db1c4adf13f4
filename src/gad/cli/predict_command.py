"""``gad predict --references ... --images ...``: score a folder of images from a checkpoint and a few normals.

    gad predict --ckpt_path CKPT --references good/ --images 'line/*.png' [--output DIR] [--calibration held_out/]

Writes per image an anomaly map (``.npy`` or 16-bit PNG) and a heat-map overlay, and ``scores.csv``/``scores.json``
(with the decision when a threshold is given or calibrated). Without ``--images``, ``gad predict`` is the
LightningCLI command that scores a datamodule's target sets (``predictions.csv``).
"""

from __future__ import annotations

from pathlib import Path

from jsonargparse import ArgumentParser

from gad.cli.detector_args import add_detector_arguments, check_detector_arguments, load_detector
from gad.cli.errors import one_line_errors
from gad.output_paths import check_writable
from gad.runs import command_status, new_output_dir, run_of_checkpoint, runs_root
from gad.inference.inputs import expand_paths
from gad.inference.outputs import write_predictions

FOLDER_MODE_OPTION = "--images"


def is_folder_mode(argv: list[str]) -> bool:
    """``gad predict`` with ``--images``: handled here rather than by LightningCLI."""
    return bool(argv) and argv[0] == "predict" and any(a.split("=")[0] == FOLDER_MODE_OPTION for a in argv[1:])


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="gad predict", description=__doc__.split("\n")[0], default_env=False)
    add_detector_arguments(parser)
    parser.add_argument(FOLDER_MODE_OPTION, nargs="+", required=True, help="query images: files, folders, globs")
    parser.add_argument(
        "--output",
        type=str | None,
        default=None,
        help="output folder (default: <run>/predict/<time>_<category>)",
    )
    parser.add_argument(
        "--map_format",
        choices=["npy", "png16"],
        default="npy",
        help="anomaly maps as float32 .npy, or 16-bit PNG (value = png / 65535)",
    )
    return parser


def predict_main(argv: list[str]) -> None:
    args = _parser().parse_args(argv)
    with one_line_errors("gad predict"), command_status():
        if args.output:
            check_writable(args.output, "--output", "folder")
        images = expand_paths(args.images, FOLDER_MODE_OPTION)
        request = check_detector_arguments(args, "predict")
        run = run_of_checkpoint(request.checkpoint)
        output = (
            Path(args.output)
            if args.output
            else new_output_dir(run / "predict" if run else runs_root(), request.category)
        )
        detector = load_detector(args, request, "predict")
        files = write_predictions(
            detector, images, output, args.map_format, args.progress, context={"checkpoint": str(request.checkpoint)}
        )
    flagged = sum(bool(row.get("anomalous")) for row in files.rows)
    decision = f", {flagged} above the threshold" if detector.threshold else ""
    print(
        f"gad predict: {len(files.rows)} images scored{decision}; maps, overlays and {files.scores_csv.name} in {output}"
    )


def image_mode_help() -> str:
    """The image mode's usage and options, for ``gad predict --help`` (which LightningCLI answers)."""
    parser = _parser()
    parser.description = None
    return parser.format_help()

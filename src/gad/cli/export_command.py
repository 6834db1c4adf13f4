"""``gad export``: an ONNX model of one product, its references baked in, with a metadata JSON beside it.

gad export --ckpt_path CKPT --references good/ --category bottle --output bottle.onnx [--calibration held_out/]
"""

from __future__ import annotations

from jsonargparse import ArgumentParser

from gad.cli.detector_args import add_detector_arguments, check_detector_arguments, load_detector
from gad.cli.errors import one_line_errors
from gad.output_paths import check_writable
from gad.inference.onnx_export import export_onnx


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="gad export", description=__doc__.split("\n")[0], default_env=False)
    add_detector_arguments(parser)
    parser.add_argument("--output", type=str, required=True, help="the .onnx file (the .json goes beside it)")
    parser.add_argument("--verify", type=bool, default=True, help="compare onnxruntime with torch after export")
    parser.add_argument("--external_data", type=bool, default=False, help="weights in a .onnx.data file (> 2 GB)")
    return parser


def export_main(argv: list[str]) -> None:
    args = _parser().parse_args(argv)
    with one_line_errors("gad export"):
        check_writable(args.output, "--output", "file")
        request = check_detector_arguments(args, "export")
        detector = load_detector(args, request, "export")
        result = export_onnx(
            detector, args.output, args.verify, args.external_data, {"checkpoint": str(request.checkpoint)}
        )
    verified = result.metadata.get("verification")
    check = f"; onnxruntime matches torch within {verified['max_abs_difference']}" if verified else ""
    print(f"gad export: {result.onnx_path} and {result.metadata_path.name} written{check}")

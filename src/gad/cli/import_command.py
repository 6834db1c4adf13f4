"""``gad import-official``: the authors' released DictAS or InCTRL weights as an ordinary gad checkpoint.

    gad import-official dictas WEIGHTS.pth --clip CLIP_FILE [--clip_config JSON] [--protocol visa] [--image_size N] --output OUT.ckpt
    gad import-official inctrl CHECKPOINT.pyth [--clip_config JSON] --output OUT.ckpt

The output is self-contained: ``gad test --ckpt_path OUT.ckpt``, ``gad predict``, ``gad export`` and
``Detector.from_checkpoint`` need nothing else (DictAS: and the CLIP file, recorded by its absolute path).
"""

from __future__ import annotations

from jsonargparse import ArgumentParser

from gad.cli.errors import one_line_errors
from gad.models.dictas.official import PAPER_CLIP, import_dictas
from gad.models.dictas.protocol import PROTOCOLS
from gad.models.inctrl.official import import_inctrl

CLIP_CONFIG_HELP = "an open_clip model-config JSON, for a CLIP architecture open_clip does not know"


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="gad import-official", description=__doc__.split("\n")[0], default_env=False)
    methods = parser.add_subcommands(dest="method")
    dictas = ArgumentParser(description="DictAS: {'Mymodel': state_dict} (train_visa.pth, train_mvtec.pth)")
    dictas.add_argument("weights", help="the released DictAS weights (.pth)")
    dictas.add_argument("--clip", required=True, help=f"the CLIP file they were trained on (OpenAI {PAPER_CLIP})")
    dictas.add_argument("--clip_config", type=str | None, default=None, help=CLIP_CONFIG_HELP)
    dictas.add_argument(
        "--protocol",
        choices=list(PROTOCOLS),
        default=None,
        help="official test rules (layers, scales, sigma, alpha) of this dataset, applied to every dataset tested",
    )
    dictas.add_argument("--image_size", type=int | None, default=None, help="CLIP input size (default: the CLIP's)")
    dictas.add_argument("--output", required=True, help="the gad checkpoint to write (.ckpt)")
    inctrl = ArgumentParser(description="InCTRL: the whole model's state dict (checkpoints/<K>/checkpoint.pyth)")
    inctrl.add_argument("checkpoint", help="the released InCTRL checkpoint (.pyth), CLIP included")
    inctrl.add_argument("--clip_config", type=str | None, default=None, help=CLIP_CONFIG_HELP)
    inctrl.add_argument("--output", required=True, help="the gad checkpoint to write (.ckpt)")
    methods.add_subcommand("dictas", dictas)
    methods.add_subcommand("inctrl", inctrl)
    return parser


def import_main(argv: list[str]) -> None:
    args = _parser().parse_args(argv)
    with one_line_errors("gad import-official"):
        if args.method == "dictas":
            a = args.dictas
            output = import_dictas(a.weights, a.clip, a.output, a.clip_config, a.protocol, a.image_size)
        else:
            a = args.inctrl
            output = import_inctrl(a.checkpoint, a.output, a.clip_config)
    print(f"gad import-official: {output} written (use it with --ckpt_path)")

"""The commands of ``gad``, each loaded only when it runs: ``gad --help`` and a mistyped command answer at once,
without importing torch or Lightning."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class Command:
    """A ``gad`` command: where its entry point lives (``module:function``, called with the arguments after the
    command's name, or with all of them for the Lightning commands) and one line of help."""

    entry: str
    summary: str
    whole_argv: bool = False

    def load(self) -> Callable[[list[str]], object]:
        module, function = self.entry.split(":")
        return getattr(import_module(module), function)  # type: ignore[no-any-return]


LIGHTNING = "gad.cli.lightning_cli:lightning_main"
LIGHTNING_TOP_LEVEL = Command(
    LIGHTNING, "the Lightning CLI's own options before the command (-c, --print_config)", True
)
COMMANDS: dict[str, Command] = {
    "fit": Command(LIGHTNING, "train a model; the run folder goes under runs/", whole_argv=True),
    "validate": Command(LIGHTNING, "validate a run (default: the most recent) on its validation sets", True),
    "test": Command(LIGHTNING, "test a run with K normal references per category: results, tables", True),
    "predict": Command(
        LIGHTNING, "score images: --images with --references (maps, overlays, scores), or a config's target sets", True
    ),
    "benchmark": Command("gad.cli.benchmark_command:benchmark_main", "test a run over shots x seeds x targets"),
    "data": Command("gad.cli.data_command:data_main", "create, convert, list or check datasets"),
    "export": Command("gad.cli.export_command:export_main", "an ONNX model of one product, its references baked in"),
    "import-official": Command(
        "gad.cli.import_command:import_main", "the authors' released DictAS or InCTRL weights as a gad checkpoint"
    ),
}

EXAMPLES = """examples:
  gad fit --config configs/quickstart.yaml              train (the run folder goes under runs/)
  gad test --shots 8                                    test the most recent run with 8 normal references
  gad test --run runs/FOLDER --shots 8                  test a given run
  gad fit --run runs/FOLDER --resume                    continue a killed fit in its folder from its last.ckpt
  gad fit -c configs/X.yaml -c configs/trainer/ddp.yaml -c configs/trainer/bf16.yaml
  gad fit --config configs/quickstart.yaml --model PatchResidual   a model by its class name
  gad data quickstart --root data/quickstart            generate the quickstart dataset
  gad predict --references good/ --images 'line/*.png'  maps, overlays, scores from a run and K normals
  gad export --references good/ --output model.onnx     ONNX of one product, its references baked in
  gad benchmark --shots 1 2 4 --seeds 0 1 2             test the most recent run over shots x seeds, one table
  gad import-official dictas W.pth --clip C.pt --output X.ckpt   the authors' released weights as a gad checkpoint

Runs go to $GAD_RUNS_DIR (default ./runs). Add --verbose to any command for Lightning's and wandb's own messages."""


def overview() -> str:
    """What ``gad --help`` prints: every command with its line, then examples."""
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items()]
    return (
        "usage: gad COMMAND [--help] [options]\n\ngad: generalist few-shot visual anomaly detection.\n\n"
        "commands:\n" + "\n".join(lines) + "\n\n`gad COMMAND --help` lists a command's options.\n\n" + EXAMPLES
    )


def unknown_command(name: str) -> str:
    """The one error line of a mistyped command."""
    return f"gad: error: unknown command {name!r}; choose from {', '.join(COMMANDS)} (gad --help says what each does)"


def dispatch(argv: list[str]) -> None:
    """Run the command ``argv`` names; help and unknown commands are answered here, before any heavy import."""
    if not argv or argv[0] in ("-h", "--help"):
        print(overview())
        return
    command = COMMANDS.get(argv[0])
    if command is None and argv[0].startswith("-"):
        command = LIGHTNING_TOP_LEVEL
    if command is None:
        sys.exit(unknown_command(argv[0]))
    command.load()(argv if command.whole_argv else argv[1:])

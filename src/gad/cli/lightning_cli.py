"""``gad fit|validate|test|predict``: LightningCLI with run folders, a ``--shots`` shortcut and saved configs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.utilities import rank_zero_info

from gad.callbacks import PredictionWriter, ResultsWriter
from gad.cli.runs import CONFIG_NAME, latest_run, new_output_dir, run_checkpoint, run_of_checkpoint, runs_root
from gad.data.datamodule import FewShotDataModule
from gad.models.base import FewShotAnomalyModule

EVAL_COMMANDS = ("validate", "test", "predict")
DESCRIPTION = """gad: generalist few-shot visual anomaly detection.

  gad fit --config configs/quickstart.yaml         train (the run folder goes under runs/)
  gad test --shots 8                               test the most recent run with 8 normal references
  gad test --run runs/FOLDER --shots 8             test a given run
  gad fit -c configs/X.yaml -c configs/trainer/ddp.yaml -c configs/trainer/bf16.yaml
  gad data quickstart --root data/quickstart       generate the quickstart dataset
  gad predict --references good/ --images 'line/*.png'   maps, overlays, scores from a run and K normals
  gad export --references good/ --output model.onnx       ONNX of one product, its references baked in

Runs go to $GAD_RUNS_DIR (default ./runs)."""


class SaveRunConfig(SaveConfigCallback):
    """Saves the resolved config as ``config.yaml`` in the run folder, whatever logger is used."""

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        folder = Path(trainer.default_root_dir)
        folder.mkdir(parents=True, exist_ok=True)
        self.parser.save(self.config, folder / CONFIG_NAME, overwrite=True, multifile=False)


class GadCLI(LightningCLI):
    """The Lightning CLI of gad. Every command writes into its own folder:

    - ``fit``: ``runs/<time>_<model>_<data>/`` with ``config.yaml``, ``checkpoints/`` and the logger's files;
    - ``validate``/``test``/``predict`` of a run: ``<run>/<command>/<time>_k<shots>_seed<seed>/`` with the
      config, the reference manifest and the result tables.
    """

    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
        super().__init__(
            model_class=FewShotAnomalyModule,
            datamodule_class=FewShotDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_callback=SaveRunConfig,
            save_config_kwargs={"save_to_log_dir": False},
            trainer_defaults={"callbacks": [ResultsWriter(), PredictionWriter()]},
            seed_everything_default=0,
            parser_kwargs={"description": DESCRIPTION, "default_env": False},
            args=args,
            run=run,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--shots", type=int | None, default=None,
            help="Number of normal reference images per category (sets data.init_args.shots).",
        )
        parser.add_argument(
            "--run", type=str | None, default=None,
            help="A run folder to evaluate: its config.yaml and best checkpoint (default for "
            "validate/test/predict without --config: the most recent run).",
        )

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand]
        if config.get("shots") is not None:
            config.data.init_args.shots = config.shots
        out_dir = self._output_dir(config)
        config.trainer.default_root_dir = str(out_dir)
        _point_loggers_at(config.trainer, out_dir)
        if self.subcommand == "fit":
            _point_checkpoints_at(config.trainer, out_dir / "checkpoints")
        elif config.get("verbose") and "--verbose" not in sys.argv:
            config.verbose = False  # ResultsWriter prints the per-category table instead of Lightning's flat one
        rank_zero_info(f"gad {self.subcommand}: writing to {out_dir}")

    def _output_dir(self, config: Namespace) -> Path:
        model = config.model.class_path.rsplit(".", 1)[-1].lower()
        if self.subcommand == "fit":
            return new_output_dir(runs_root(), f"{model}_{_data_name(config)}")
        data = config.data.init_args
        name = f"k{data.shots}_seed{data.seed}"
        if config.get("ckpt_path"):
            return new_output_dir(run_of_checkpoint(Path(config.ckpt_path)) / self.subcommand, name)
        return new_output_dir(runs_root(), f"{model}_{self.subcommand}_{name}")


def _data_name(config: Namespace) -> str:
    auxiliary = config.data.init_args.get("auxiliary")
    if isinstance(auxiliary, Namespace):
        return str(auxiliary.init_args.get("name") or Path(auxiliary.init_args.get("root", "data")).name)
    return "data"


def _as_list(value: Any) -> list:
    if value is None or isinstance(value, bool):
        return []
    return list(value) if isinstance(value, list) else [value]


def _point_loggers_at(trainer: Namespace, folder: Path) -> None:
    """Loggers write inside the command's folder (wandb: ``<folder>/wandb/``), named after it."""
    for logger in _as_list(trainer.get("logger")):
        if isinstance(logger, Namespace) and "init_args" in logger:
            logger.init_args.save_dir = str(folder)
            if logger.class_path.endswith("WandbLogger"):
                logger.init_args.name = "/".join(folder.parts[-3:]) if folder.parent.name in EVAL_COMMANDS else folder.name
                logger.init_args.group = folder.name if folder.parent.name not in EVAL_COMMANDS else folder.parent.parent.name


def _point_checkpoints_at(trainer: Namespace, folder: Path) -> None:
    for callback in _as_list(trainer.get("callbacks")):
        if isinstance(callback, Namespace) and callback.get("class_path", "").endswith("ModelCheckpoint"):
            callback.init_args.dirpath = str(folder)


def resolve_run_arguments(argv: list[str]) -> list[str]:
    """For validate/test/predict given ``--run FOLDER`` or no config at all, add that run's (or the most recent
    run's) ``--config`` and ``--ckpt_path`` right after the command, so later arguments still override them."""
    if not argv or argv[0] not in EVAL_COMMANDS or any(a in ("-h", "--help") for a in argv):
        return argv
    run = _option_value(argv, "--run")
    if run is not None:
        folder = Path(run)
        checkpoint = run_checkpoint(folder)
    elif any(a.split("=")[0] in ("-c", "--config", "--ckpt_path", "--model", "--data") for a in argv[1:]):
        return argv
    else:
        folder, checkpoint = latest_run()
        print(f"gad {argv[0]}: using the most recent run {folder} (checkpoint {checkpoint})", file=sys.stderr)
    return [argv[0], "--config", str(folder / CONFIG_NAME), "--ckpt_path", str(checkpoint), *argv[1:]]


def _option_value(argv: list[str], option: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None

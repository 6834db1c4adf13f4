"""``gad fit|validate|test|predict``: LightningCLI with run folders, a ``--shots`` shortcut and saved configs."""

from __future__ import annotations

import os
import sys
from argparse import RawDescriptionHelpFormatter
from pathlib import Path
from typing import Any

from jsonargparse import DefaultHelpFormatter, Namespace
from jsonargparse.typing import import_object
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback

from gad.callbacks import PredictionWriter, ResultsWriter
from gad.cli.commands import overview
from gad.cli.config_checks import check_accelerator, check_config_files, config_files
from gad.cli.errors import one_line_errors
from gad.cli.lightning_adapter import check_checkpoint_method, hand_to_ddp, reapply_model_options, shared_output_dir
from gad.cli.model_names import import_model_packages
from gad.cli.predict_command import image_mode_help, is_folder_mode, predict_main
from gad.cli.run_arguments import model_from_checkpoint, resolve_run_arguments
from gad.cli.target_sets import replace_targets
from gad.cli.verbosity import is_verbose, say, set_verbosity
from gad.data.datamodule import FewShotDataModule
from gad.errors import ConfigError
from gad.metrics.anomaly_metrics import MetricSettings
from gad.metrics.undefined import UndefinedMetricsError, undefined_lines
from gad.models.base import FewShotAnomalyModule
from gad.runs import CONFIG_NAME, command_status, new_output_dir, reopen_run, run_of_checkpoint, runs_root
from gad.tracking import RunIdentity, has_api_key, log_config, silence_wandb

PREDICT_DESCRIPTION = """Score images with a trained model, in one of two modes.

Image mode (with --images): anomaly maps, overlays and scores.csv for a folder of images, from a run (or
--ckpt_path) and a few normal --references; --calibration held-out normals choose the threshold at --fpr.

{image_mode}
Dataset mode (without --images): predictions.csv for the target sets of a config, with the options below."""


class HelpFormatter(RawDescriptionHelpFormatter, DefaultHelpFormatter):
    """jsonargparse's help, with the description's examples kept one per line."""


class SaveRunConfig(SaveConfigCallback):
    """Saves the resolved config as ``config.yaml`` in the run folder, whatever logger is used, and logs it (with
    the run's identity and the package versions) to wandb."""

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        folder = Path(trainer.default_root_dir)
        folder.mkdir(parents=True, exist_ok=True)
        if not (stage == "fit" and self.config.get("ckpt_path") and (folder / CONFIG_NAME).is_file()):
            # nulls are kept (`pretrained: null` must stay random init on a re-fit); a resumed run keeps its config
            self.parser.save(self.config, folder / CONFIG_NAME, overwrite=True, multifile=False, skip_unset=False)
        log_config(
            trainer, self.config.clone().as_dict(), run_identity(str(getattr(stage, "value", stage)), self.config)
        )


class GadCLI(LightningCLI):
    """The Lightning CLI of gad. Every command writes into its own folder:

    - ``fit``: ``runs/<time>_<model>_<data>/`` with ``config.yaml``, ``checkpoints/`` and the logger's files;
    - ``validate``/``test``/``predict`` of a run: ``<run>/<command>/<time>_k<shots>_seed<seed>/`` with the
      config, the reference manifest and the result tables.
    """

    def __init__(self, args: list[str], run: bool = True) -> None:
        super().__init__(
            model_class=FewShotAnomalyModule,
            datamodule_class=FewShotDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_callback=SaveRunConfig,
            save_config_kwargs={"save_to_log_dir": False},
            trainer_defaults={"callbacks": [PredictionWriter()]},
            seed_everything_default=0,
            parser_kwargs={
                "description": overview(),
                "default_env": False,
                "formatter_class": HelpFormatter,
                "predict": {
                    "description": PREDICT_DESCRIPTION.format(image_mode=image_mode_help()),
                    "formatter_class": HelpFormatter,
                },
            },
            args=args,
            run=run,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--shots",
            type=int | None,
            default=None,
            help="Number of normal reference images per category (sets data.init_args.shots).",
        )
        parser.add_argument(
            "--run",
            type=str | None,
            default=None,
            help="A finished run folder to evaluate: its config.yaml and best checkpoint (default for "
            "validate/test/predict without --config: the most recent finished run); with fit --resume, the run "
            "to continue.",
        )
        parser.add_argument(
            "--allow_undefined_metrics",
            type=bool,
            default=False,
            help="validate/test: exit 0 even when a metric is undefined for some category (a test set with only "
            "normal or only anomalous images, or empty masks); by default that is an error, after the results "
            "are written.",
        )
        parser.add_class_arguments(MetricSettings, "metrics")
        parser.add_lightning_class_args(ResultsWriter, "results")

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        self.model.metric_settings = self._get(self.config_init, "metrics")
        if isinstance(self.model, FewShotAnomalyModule) and isinstance(self.datamodule, FewShotDataModule):
            self.model.hand_contract_to(self.datamodule)

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse ``args`` (resolved by ``run_lightning``; ``sys.argv`` only holds them for DDP's sake), refuse a
        checkpoint of another method, and keep the options as given for ``before_instantiate_classes``."""
        self.config = parser.parse_args(args)
        self._argv = list(args)
        self._given = self.config.clone()
        subcommand = self.config.get("subcommand")
        if subcommand:
            check_checkpoint_method(self.config[subcommand])

    def before_instantiate_classes(self) -> None:
        command = str(self.subcommand)
        config = self.config[command]
        reapply_model_options(config, self._given[command], self._argv[1:])
        check_accelerator(config.trainer.get("accelerator"), config.trainer.get("devices"))
        if config.get("shots") is not None:
            config.data.init_args.shots = config.shots
        out_dir = _output_dir(command, config)
        config.trainer.default_root_dir = str(out_dir)
        _point_loggers_at(config.trainer, out_dir, run_identity(command, config))
        if command == "fit":
            _point_checkpoints_at(config.trainer, out_dir / "checkpoints")
        elif "verbose" in config:
            config.verbose = is_verbose()  # ResultsWriter prints the per-category table instead of Lightning's flat one
        say(f"gad {command}: writing to {out_dir}")


def _output_dir(command: str, config: Namespace) -> Path:
    """The command's folder (see ``GadCLI``), shared with the DDP processes it launches."""
    model = config.model.class_path.rsplit(".", 1)[-1].lower()
    if command == "fit" and config.get("ckpt_path"):
        folder = run_of_checkpoint(Path(config.ckpt_path))  # a resumed fit continues in its own run folder
        if folder is None:
            raise ConfigError(f"--ckpt_path {config.ckpt_path}: not inside a gad run folder, nothing to resume.")
        return shared_output_dir(lambda: _reopened(folder))
    if command == "fit":
        return shared_output_dir(lambda: new_output_dir(runs_root(), f"{model}_{_data_name(config)}"))
    data = config.data.init_args
    name = f"k{data.shots}_seed{data.seed}"
    run = run_of_checkpoint(Path(config.ckpt_path)) if config.get("ckpt_path") else None
    # inside the checkpoint's run, else (an imported or copied checkpoint, or none) under runs/
    parent, name = (run / command, name) if run is not None else (runs_root(), f"{model}_{command}_{name}")
    return shared_output_dir(lambda: new_output_dir(parent, name))


def _reopened(folder: Path) -> Path:
    reopen_run(folder)
    return folder


def _data_name(config: Namespace) -> str:
    return _source_name(config.data.init_args.get("auxiliary"))


def _source_name(source: Any) -> str:
    """A dataset's name from its config: ``name``, else its reader's default name; several targets joined by +."""
    if isinstance(source, list):
        return "+".join(_source_name(s) for s in source)
    if not isinstance(source, Namespace):
        return "data"
    name = source.get("init_args", Namespace()).get("name")
    return str(name or getattr(import_object(source.class_path), "default_name", "data"))


def run_identity(command: str, config: Namespace) -> RunIdentity:
    data = config.data.init_args
    return RunIdentity(
        command=command,
        method=config.model.class_path.rsplit(".", 1)[-1].lower(),
        auxiliary=_source_name(data.get("auxiliary")),
        target=_source_name(data.get("target")),
        shots=int(data.get("shots") or 0),
        seed=int(data.get("seed") or 0),
    )


def _as_list(value: Any) -> list:
    if value is None or isinstance(value, bool):
        return []
    return list(value) if isinstance(value, list) else [value]


def _point_loggers_at(trainer: Namespace, folder: Path, identity: RunIdentity) -> None:
    """Loggers write inside the command's folder (wandb: ``<folder>/wandb/``). wandb runs are named, grouped and
    tagged by method, auxiliary set, target, shots and seed, and run offline when no API key is set."""
    for logger in _as_list(trainer.get("logger")):
        if isinstance(logger, Namespace) and "init_args" in logger:
            logger.init_args.save_dir = str(folder)
            if logger.class_path.endswith("WandbLogger"):
                if not is_verbose():
                    silence_wandb()
                logger.init_args.name = identity.name
                logger.init_args.group = identity.group
                logger.init_args.job_type = identity.command
                logger.init_args.tags = identity.tags
                if not logger.init_args.get("offline") and "WANDB_MODE" not in os.environ and not has_api_key():
                    logger.init_args.offline = True
                    say(f"gad: no wandb API key: logging offline to {folder / 'wandb'} (wandb sync later)")


def _point_checkpoints_at(trainer: Namespace, folder: Path) -> None:
    for callback in _as_list(trainer.get("callbacks")):
        if isinstance(callback, Namespace) and callback.get("class_path", "").endswith("ModelCheckpoint"):
            callback.init_args.dirpath = str(folder)


def lightning_main(argv: list[str]) -> None:
    """``gad fit|validate|test|predict ...`` (``predict --images``: the image mode)."""
    if is_folder_mode(argv):
        predict_main(argv[1:])
        return
    with one_line_errors("gad"):
        run_lightning(argv)


def run_lightning(argv: list[str]) -> GadCLI:
    """One ``fit|validate|test|predict`` command in this process; its wandb run is closed when it returns."""
    argv = resolve_run_arguments(argv)
    check_config_files(config_files(argv))
    argv = replace_targets(model_from_checkpoint(argv))
    import_model_packages()  # every model can be named by its class name alone (--model PatchResidual)
    set_verbosity(is_verbose())  # again: importing Lightning set its loggers to INFO
    hand_to_ddp(argv, is_verbose())
    with command_status():
        cli = GadCLI(argv)
    _finish_wandb()
    refuse_undefined_metrics(cli)
    return cli


def refuse_undefined_metrics(cli: GadCLI) -> None:
    """After validate/test: undefined metrics (listed with the table) end the command with an error, unless
    ``--allow_undefined_metrics``: a mean over the remaining categories must not pass for the whole test set."""
    if cli.subcommand not in ("validate", "test") or cli.config[cli.subcommand].get("allow_undefined_metrics"):
        return
    lines = undefined_lines(getattr(cli.model, "undefined_by_dataset", {}))
    if lines:
        more = f" (and {len(lines) - 1} more, listed above and in results.json)" if len(lines) > 1 else ""
        raise UndefinedMetricsError(
            f"{lines[0]}{more}. Results are written to {cli.trainer.default_root_dir}; pass "
            "--allow_undefined_metrics true to accept undefined metrics."
        )


def _finish_wandb() -> None:
    """Close the command's wandb run, so that a next command in the same process starts its own."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()

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
from lightning.pytorch.utilities import rank_zero_info

from gad.callbacks import PredictionWriter, ResultsWriter
from gad.cli.config_checks import check_accelerator, check_config_files, config_files
from gad.runs import (
    CONFIG_NAME,
    command_status,
    latest_run,
    new_output_dir,
    reopen_run,
    resumable_run,
    run_checkpoint,
    run_of_checkpoint,
    runs_root,
)
from gad.cli.target_sets import replace_targets
from gad.data.datamodule import FewShotDataModule
from gad.errors import ConfigError
from gad.metrics.anomaly_metrics import MetricSettings
from gad.metrics.undefined import UndefinedMetricsError, undefined_lines
from gad.models.base import FewShotAnomalyModule
from gad.models.checkpoint_file import checkpoint_class
from gad.tracking import RunIdentity, has_api_key, log_config

EVAL_COMMANDS = ("validate", "test", "predict")
DESCRIPTION = """gad: generalist few-shot visual anomaly detection.

  gad fit --config configs/quickstart.yaml              train (the run folder goes under runs/)
  gad test --shots 8                                    test the most recent run with 8 normal references
  gad test --run runs/FOLDER --shots 8                  test a given run
  gad fit --run runs/FOLDER --resume                    continue a killed fit in its folder from its last.ckpt
  gad fit -c configs/X.yaml -c configs/trainer/ddp.yaml -c configs/trainer/bf16.yaml
  gad data quickstart --root data/quickstart            generate the quickstart dataset
  gad predict --references good/ --images 'line/*.png'  maps, overlays, scores from a run and K normals
  gad export --references good/ --output model.onnx     ONNX of one product, its references baked in
  gad benchmark --shots 1 2 4 --seeds 0 1 2             test the most recent run over shots x seeds, one table
  gad import-official dictas W.pth --clip C.pt --output X.ckpt   the authors' released weights as a gad checkpoint

Runs go to $GAD_RUNS_DIR (default ./runs)."""


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
            self.parser.save(self.config, folder / CONFIG_NAME, overwrite=True, multifile=False, skip_none=False)
        log_config(
            trainer, self.config.clone().as_dict(), run_identity(str(getattr(stage, "value", stage)), self.config)
        )


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
            trainer_defaults={"callbacks": [PredictionWriter()]},
            seed_everything_default=0,
            parser_kwargs={"description": DESCRIPTION, "default_env": False, "formatter_class": HelpFormatter},
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

    def _parse_ckpt_path(self) -> None:
        """Lightning replaces the model's settings by the checkpoint's hyperparameters; the ``--model...`` arguments
        of the command line are then applied again, so that test-time options given with a checkpoint
        (``gad test --model.init_args.alpha 0.5``) take effect instead of being silently dropped. A checkpoint of
        another method than the config's model is refused (Lightning would silently swap the model)."""
        given = self.config.clone()
        subcommand = self.config.get("subcommand")
        if subcommand and given[subcommand].get("ckpt_path"):
            model = given[subcommand].get("model") or Namespace()
            _check_method(given[subcommand].ckpt_path, model.get("class_path"))
        super()._parse_ckpt_path()
        if not subcommand or not self.config[subcommand].get("ckpt_path"):
            return
        for key in model_option_keys(sys.argv[2:]):
            for candidate in (key, key.replace("model.", "model.init_args.", 1)):
                if candidate in given[subcommand]:
                    self.config[subcommand][candidate] = given[subcommand][candidate]
                    break

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand]
        check_accelerator(config.trainer.get("accelerator"), config.trainer.get("devices"))
        if config.get("shots") is not None:
            config.data.init_args.shots = config.shots
        out_dir = self._output_dir(config)
        config.trainer.default_root_dir = str(out_dir)
        _point_loggers_at(config.trainer, out_dir, run_identity(self.subcommand, config))
        if self.subcommand == "fit":
            _point_checkpoints_at(config.trainer, out_dir / "checkpoints")
        elif config.get("verbose") and "--verbose" not in sys.argv:
            config.verbose = False  # ResultsWriter prints the per-category table instead of Lightning's flat one
        rank_zero_info(f"gad {self.subcommand}: writing to {out_dir}")

    def _output_dir(self, config: Namespace) -> Path:
        model = config.model.class_path.rsplit(".", 1)[-1].lower()
        if self.subcommand == "fit" and config.get("ckpt_path"):
            folder = run_of_checkpoint(Path(config.ckpt_path))  # a resumed fit continues in its own run folder
            if folder is None:
                raise ConfigError(f"--ckpt_path {config.ckpt_path}: not inside a gad run folder, nothing to resume.")
            if os.environ.get("LOCAL_RANK", "0") == "0":
                reopen_run(folder)
            return folder
        if self.subcommand == "fit":
            return new_output_dir(runs_root(), f"{model}_{_data_name(config)}")
        data = config.data.init_args
        name = f"k{data.shots}_seed{data.seed}"
        run = run_of_checkpoint(Path(config.ckpt_path)) if config.get("ckpt_path") else None
        if run is not None:
            return new_output_dir(run / self.subcommand, name)
        return new_output_dir(runs_root(), f"{model}_{self.subcommand}_{name}")  # not inside a run: under runs/


def _check_method(checkpoint: str, config_class: str | None) -> None:
    saved = checkpoint_class(checkpoint)
    if config_class and _class_or_name(config_class) is not _class_or_name(saved):
        raise ConfigError(
            f"--ckpt_path {checkpoint} holds a {saved} but the config's model is {config_class}: give a checkpoint "
            f"of {config_class.rsplit('.', 1)[-1]}, or a config without a model (the checkpoint says which)."
        )


def _class_or_name(class_path: str) -> object:
    """The class a path names (one class may have several paths), or the path itself if it names none."""
    try:
        return import_object(class_path)
    except (ImportError, AttributeError, ValueError):
        return class_path


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
                logger.init_args.name = identity.name
                logger.init_args.group = identity.group
                logger.init_args.job_type = identity.command
                logger.init_args.tags = identity.tags
                if not logger.init_args.get("offline") and "WANDB_MODE" not in os.environ and not has_api_key():
                    logger.init_args.offline = True
                    rank_zero_info(f"gad: no wandb API key: logging offline to {folder / 'wandb'} (wandb sync later)")


def _point_checkpoints_at(trainer: Namespace, folder: Path) -> None:
    for callback in _as_list(trainer.get("callbacks")):
        if isinstance(callback, Namespace) and callback.get("class_path", "").endswith("ModelCheckpoint"):
            callback.init_args.dirpath = str(folder)


def resolve_run_arguments(argv: list[str]) -> list[str]:
    """For validate/test/predict given ``--run FOLDER`` or no config at all, add that run's (or the most recent
    finished run's) ``--config`` and ``--ckpt_path`` right after the command, so later arguments still override
    them; for a resumed fit see ``resume_arguments``."""
    if any(a in ("-h", "--help") for a in argv):
        return argv
    if argv and argv[0] == "fit":
        return resume_arguments(argv)
    if not argv or argv[0] not in EVAL_COMMANDS:
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


def model_from_checkpoint(argv: list[str]) -> list[str]:
    """For validate/test/predict with ``--ckpt_path`` and no ``--model``: the checkpoint's model class first, so
    that a config with only data works (a config's own model still comes later and wins). The checkpoint is
    checked here, before anything is built: safe to load, of a gad format this gad reads, saying its model."""
    checkpoint = _option_value(argv, "--ckpt_path")
    if not argv or argv[0] not in EVAL_COMMANDS or checkpoint is None or any(a in ("-h", "--help") for a in argv):
        return argv
    class_path = checkpoint_class(checkpoint)
    if any(a.split("=")[0] == "--model" for a in argv):
        return argv
    return [argv[0], "--model", class_path, *argv[1:]]


def resume_arguments(argv: list[str]) -> list[str]:
    """``fit [--run RUN] --resume`` (``--resume`` is handled here, before the parser) or ``fit --ckpt_path
    last|CKPT``: the run's ``--config`` first, then the other arguments, then ``--ckpt_path`` of the checkpoint to
    continue from (``last``: the run's ``last.ckpt``). The fit then writes into that run's folder."""
    ckpt = _option_value(argv, "--ckpt_path")
    if ckpt is None and "--resume" not in argv:
        return argv
    run = _option_value(argv, "--run")
    folder, checkpoint = resumable_run(Path(run) if run else None, None if ckpt in (None, "last") else Path(ckpt))
    checkpoint_class(checkpoint)  # safe to load, a format this gad reads, naming a gad model
    print(f"gad fit: resuming {folder} from {checkpoint}", file=sys.stderr)
    rest = [arg for arg in _without_option(argv[1:], "--ckpt_path") if arg != "--resume"]
    return [argv[0], "--config", str(folder / CONFIG_NAME), *rest, "--ckpt_path", str(checkpoint)]


def _without_option(argv: list[str], option: str) -> list[str]:
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            kept.append(arg)
    return kept


def model_option_keys(argv: list[str]) -> list[str]:
    """The config keys of the ``--model...`` options of a command line (``--model.init_args.x=1`` ->
    ``model.init_args.x``)."""
    return [arg[2:].split("=", 1)[0] for arg in argv if arg.startswith("--model.")]


def _option_value(argv: list[str], option: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


def run_lightning(argv: list[str]) -> GadCLI:
    """One ``fit|validate|test|predict`` command in this process; its wandb run is closed when it returns."""
    argv = resolve_run_arguments(argv)
    check_config_files(config_files(argv))
    argv = replace_targets(model_from_checkpoint(argv))
    # DDP launches the other processes with sys.argv: give them the resolved arguments too.
    sys.argv = [sys.argv[0], *argv]
    with command_status():
        cli = GadCLI()
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

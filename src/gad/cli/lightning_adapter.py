"""Where gad's CLI departs from LightningCLI's defaults, in one place, each through Lightning's public hooks.

1. Options given with a checkpoint win: Lightning replaces the model's settings by the checkpoint's
   hyperparameters after parsing; the ``--model...`` options of the command line are applied again over them
   (``gad test --ckpt_path X --model.init_args.alpha 0.5`` tests with alpha 0.5), and a checkpoint of another
   method than the config's model is refused (Lightning would silently swap the model).
2. DDP processes get the resolved command line: Lightning starts ranks > 0 by re-running ``sys.argv``, so the
   arguments gad resolved (the run picked, the checkpoint's model) are written there before the run.
3. DDP processes share rank 0's output folder: each would otherwise create its own timestamped folder; rank 0
   passes the folder it made through the environment, which the processes it launches inherit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from jsonargparse import Namespace
from jsonargparse.typing import import_object

from gad.cli.verbosity import VERBOSE_OPTION
from gad.errors import ConfigError
from gad.models.checkpoint_file import checkpoint_class

OUTPUT_ENV = "GAD_OUTPUT_DIR"


def model_option_keys(argv: list[str]) -> list[str]:
    """The config keys of the ``--model...`` options of a command line (``--model.init_args.x=1`` ->
    ``model.init_args.x``)."""
    return [arg[2:].split("=", 1)[0] for arg in argv if arg.startswith("--model.")]


def check_checkpoint_method(config: Namespace) -> None:
    """Refuse a ``ckpt_path`` holding another method than the parsed config's model (one command's config)."""
    checkpoint = config.get("ckpt_path")
    config_class = (config.get("model") or Namespace()).get("class_path")
    if not checkpoint or not config_class:
        return
    saved = checkpoint_class(checkpoint)
    if _class_or_name(config_class) is not _class_or_name(saved):
        raise ConfigError(
            f"--ckpt_path {checkpoint} holds a {saved} but the config's model is {config_class}: give a checkpoint "
            f"of {config_class.rsplit('.', 1)[-1]}, or a config without a model (the checkpoint says which)."
        )


def reapply_model_options(config: Namespace, given: Namespace, argv: list[str]) -> None:
    """After Lightning loaded the checkpoint's hyperparameters into ``config`` (one command's), set again the
    ``--model...`` options ``argv`` gave, with their values in ``given`` (the config as parsed, before that)."""
    if not config.get("ckpt_path"):
        return
    for key in model_option_keys(argv):
        for candidate in (key, key.replace("model.", "model.init_args.", 1)):
            if candidate in given:
                config[candidate] = given[candidate]
                break


def _class_or_name(class_path: str) -> object:
    """The class a path names (one class may have several paths), or the path itself if it names none."""
    try:
        return import_object(class_path)
    except (ImportError, AttributeError, ValueError):
        return class_path


def hand_to_ddp(argv: list[str], verbose: bool) -> None:
    """Write the resolved command line where Lightning's DDP launcher reads the other ranks' arguments."""
    sys.argv = [sys.argv[0], *argv, *([VERBOSE_OPTION] if verbose else [])]


def is_ddp_child() -> bool:
    """A DDP process launched by rank 0 of this command (it inherited rank 0's output folder)."""
    return os.environ.get("LOCAL_RANK", "0") != "0" and bool(os.environ.get(OUTPUT_ENV))


def shared_output_dir(create: Callable[[], Path]) -> Path:
    """Rank 0 (or a single process): the folder ``create`` makes, passed on to the DDP processes it will launch;
    a launched DDP process: rank 0's folder, nothing created."""
    if is_ddp_child():
        return Path(os.environ[OUTPUT_ENV])
    folder = create()
    os.environ[OUTPUT_ENV] = str(folder)
    return folder

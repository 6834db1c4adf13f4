"""Checks of ``--config`` files and of the accelerator, made before LightningCLI parses or builds anything: its own
messages are a usage dump that names no file (bad YAML) or a traceback (no GPU)."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from gad.errors import ConfigError

CONFIG_OPTIONS = ("-c", "--config")
GPU_ACCELERATORS = ("gpu", "cuda")


def config_files(argv: list[str]) -> list[str]:
    """The values of ``-c``/``--config`` (``--config X`` or ``--config=X``) in a command line."""
    found = []
    for index, arg in enumerate(argv):
        if arg in CONFIG_OPTIONS and index + 1 < len(argv):
            found.append(argv[index + 1])
        elif arg.split("=", 1)[0] in CONFIG_OPTIONS and "=" in arg:
            found.append(arg.split("=", 1)[1])
    return found


def check_config_files(paths: list[str]) -> None:
    """Each config file exists and is a YAML mapping; a syntax error names the file, its line and column.
    Settings given inline (``--config '{trainer: {max_epochs: 1}}'``, which jsonargparse accepts) are left to it."""
    for name in paths:
        if name.lstrip().startswith("{") or "\n" in name:
            continue
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"--config {name}: no such file.")
        try:
            content = yaml.safe_load(path.read_text())
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"--config {name}: invalid YAML{where}: {err.problem or err.context}.") from err
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise ConfigError(f"--config {name}: not a readable YAML file: {err}") from err
        if content is not None and not isinstance(content, dict):
            raise ConfigError(
                f"--config {name}: expected a mapping of settings (e.g. 'trainer:' and 'model:'), got a "
                f"{type(content).__name__}."
            )


def check_accelerator(accelerator: object, devices: object) -> None:
    """``--trainer.accelerator gpu``/``cuda`` needs a GPU that PyTorch can see, and at least ``devices`` of them."""
    if not isinstance(accelerator, str) or accelerator.lower() not in GPU_ACCELERATORS:
        return
    if accelerator.lower() == "gpu" and torch.backends.mps.is_available():
        return  # Lightning's "gpu" is Apple's MPS there
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if visible == 0:
        why = (
            "this PyTorch is built without CUDA" if torch.version.cuda is None else "torch.cuda.is_available() is False"
        )
        raise ConfigError(
            f"--trainer.accelerator {accelerator}: no GPU is visible here ({why}); use --trainer.accelerator cpu "
            "(or -c configs/trainer/cpu.yaml), or auto to take a GPU only when there is one."
        )
    if isinstance(devices, int) and devices > visible:
        raise ConfigError(f"--trainer.devices {devices}: only {visible} GPUs are visible here.")

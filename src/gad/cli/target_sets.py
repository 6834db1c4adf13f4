"""A target set given after a run's config replaces the run's targets whole.

jsonargparse merges a class value into the previous one: the init_args that the new reader also accepts
(``categories``, ``name``, ``mask_suffix``, ...) would be carried over from the run's target, so testing a run on
another dataset would keep, for example, the run's category list. Clearing the target first makes the later
config's target the only one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gad.cli.config_checks import CONFIG_OPTIONS

CLEAR_TARGET = ("--data.init_args.target", "null")


def replace_targets(argv: list[str]) -> list[str]:
    """``argv`` with ``--data.init_args.target null`` before each ``--config`` that sets the target after an earlier
    one did (e.g. ``gad test --run RUN -c configs/targets/visa.yaml``)."""
    result: list[str] = []
    target_seen = False
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg in CONFIG_OPTIONS and index + 1 < len(argv):
            option, value, width = [arg, argv[index + 1]], argv[index + 1], 2
        elif arg.split("=", 1)[0] in CONFIG_OPTIONS and "=" in arg:
            option, value, width = [arg], arg.split("=", 1)[1], 1
        else:
            result.append(arg)
            index += 1
            continue
        sets_target = config_sets_target(value)
        if sets_target and target_seen:
            result.extend(CLEAR_TARGET)
        target_seen = target_seen or sets_target
        result.extend(option)
        index += width
    return result


def config_sets_target(name: str) -> bool:
    """Whether a config file sets ``data.init_args.target`` (also through a ``data:`` file it names)."""
    path = Path(name)
    if name.lstrip().startswith("{") or "\n" in name or not path.is_file():
        return False
    data = (yaml.safe_load(path.read_text()) or {}).get("data")
    if isinstance(data, str) and (path.parent / data).is_file():
        data = yaml.safe_load((path.parent / data).read_text())
    return isinstance(data, dict) and _has_target(data)


def _has_target(data: dict[str, Any]) -> bool:
    init_args = data.get("init_args")
    return "target" in data or (isinstance(init_args, dict) and "target" in init_args)

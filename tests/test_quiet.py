"""Quiet by default: library chatter off, ``--verbose`` brings it back; open_clip's random-init line never shown."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from gad.cli.verbosity import pop_verbose, set_verbosity
from gad.models.components.clip_backbone import ClipBackbone, ClipConfig
from gad.output_paths import write_atomic


@pytest.mark.parametrize(
    "argv, verbose, rest",
    [
        (["test", "--shots", "2"], False, ["test", "--shots", "2"]),
        (["test", "--verbose", "--shots", "2"], True, ["test", "--shots", "2"]),
        (["--verbose", "false", "test"], False, ["test"]),
        (["test", "--verbose=true"], True, ["test"]),
    ],
)
def test_verbose_is_taken_out_of_the_command_line(argv: list[str], verbose: bool, rest: list[str]) -> None:
    assert pop_verbose(argv) == (verbose, rest)


def test_lightning_info_lines_only_when_verbose() -> None:
    import lightning.pytorch  # noqa: F401  (its import sets its loggers to INFO)

    lightning_log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    try:
        set_verbosity(False)
        assert not lightning_log.isEnabledFor(logging.INFO)
        set_verbosity(True)
        assert lightning_log.isEnabledFor(logging.INFO)
    finally:
        set_verbosity(False)


class _Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_building_the_backbone_does_not_claim_random_weights() -> None:
    collected = _Collected()
    logging.getLogger().addHandler(collected)
    try:
        ClipBackbone(ClipConfig(model_name="gad-tiny-vit", pretrained=None, layers=[1]))
        logging.getLogger().warning("No pretrained weights loaded (said by another library)")
    finally:
        logging.getLogger().removeHandler(collected)
    assert [m for m in collected.messages if "No pretrained weights" in m] == [
        "No pretrained weights loaded (said by another library)"  # only gad's own builds are quiet
    ]


def test_an_interrupted_write_keeps_the_old_file_and_no_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = write_atomic(tmp_path / "results.json", '{"old": 1}\n')

    def killed(*args: object) -> None:
        raise KeyboardInterrupt("signal 15")

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(results, '{"new": 2}\n')
    assert results.read_text() == '{"old": 1}\n' and [p.name for p in tmp_path.iterdir()] == ["results.json"]

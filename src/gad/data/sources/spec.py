"""What gad knows about one dataset, declared once beside its reader (or its converter) and registered in
``gad.data.registry``: ``gad data list | check | prepare`` and the layout hints of error messages read it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gad.data.sources.base import SampleSource

if TYPE_CHECKING:
    from gad.data.converters.base import Converter


@dataclass(frozen=True)
class Signature:
    """How to recognise a folder of this dataset, so that a reader given it can say what it holds.

    ``what`` describes the layout (``the raw ELPV download (labels.csv, images/cell*.png)``); ``matches`` must
    look at a few entries only (never walk the whole tree). ``generic`` layouts (the MVTec layout, ``meta.json``,
    a folder of normal images) are tried after the specific ones. ``read_with`` replaces the reader's class name
    in the hint where several readers fit.
    """

    what: str
    matches: Callable[[Path], bool]
    generic: bool = False
    read_with: str = ""


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: its short name (``gad data check NAME``), reader, optional converter, layout signature and the
    line ``gad data list`` prints.

    With a converter the signature recognises the raw download (the hint says which ``gad data prepare`` command
    converts it); without, the layout the reader reads as it is. ``mvtec_like``: the reader reads MVTec-style
    folders, so a folder in the MVTec layout is not "another dataset's layout" for it. ``downloaded``: ``gad data
    prepare NAME`` is offered (it answers that no conversion is needed where there is no converter); ``False`` for
    generated sets and generic layouts.
    """

    name: str
    reader: type[SampleSource]
    doc: str
    converter: type[Converter] | None = None
    signature: Signature | None = None
    mvtec_like: bool = False
    downloaded: bool = True

    def __post_init__(self) -> None:
        if self.converter is not None and self.converter.name != self.name:
            raise ValueError(f"dataset {self.name}: its converter is named {self.converter.name!r}")

    @property
    def reader_path(self) -> str:
        """The class path configs use (every registered reader is importable from ``gad.data.sources``)."""
        return f"gad.data.sources.{self.reader.__name__}"

    def hint(self, root: Path) -> str:
        """What ``root`` (which matches the signature) holds and how to read it."""
        assert self.signature is not None
        if self.converter is not None:
            how = f"convert it with `gad data prepare {self.name} --src {root} --dst <new folder>`"
        else:
            how = f"read it with gad.data.sources.{self.signature.read_with or self.reader.__name__}"
        return f"{self.signature.what}: {how}"

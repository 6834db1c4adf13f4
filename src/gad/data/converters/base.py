"""What every converter shares: a deterministic, idempotent, atomic write of a dataset into a new folder.

A conversion reads ``src`` (never writing there), writes into a hidden ``.<dst>.partial`` folder next to ``dst``,
adds the manifest ``gad_dataset.json`` (dataset, converter version, settings, split rule, counts, every file with
its size) and only then renames the folder to ``dst``. Running it again with the same settings verifies ``dst``
against its manifest and writes nothing; other settings, a modified ``dst`` or a foreign folder are errors.
"""

from __future__ import annotations

import json
import os
import shutil
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TypeVar

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from gad.data.sources.base import DataLayoutError
from gad.data.sources.splits import SPLIT_RULE
from gad.errors import GadError

MANIFEST_NAME = "gad_dataset.json"
PARTIAL_MARKER = ".gad-partial"

T = TypeVar("T")


class ConversionError(GadError, ValueError):
    """A conversion that cannot run: a missing source, a destination in the way, a bad setting."""


@dataclass
class ConversionResult:
    """What ``Converter.prepare`` did: ``written`` (a new conversion) or ``verified`` (already there, checked)."""

    dataset: str
    root: Path
    status: str
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        counts = ", ".join(f"{k}: {v}" for k, v in self.counts.items())
        verb = "written to" if self.status == "written" else "already prepared and verified in"
        return f"{self.dataset} {verb} {self.root} ({counts})"


class Output:
    """The folder a conversion writes into; it records every file for the manifest."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, int] = {}
        self.notes: dict[str, object] = {}
        """Facts for the manifest (e.g. images left out by the split rule, and why)."""

    def path(self, relative: str) -> Path:
        """Where ``relative`` goes: refused unless it stays inside the destination (the one check of every
        converter's output, whatever a source's names hold)."""
        if relative in self.files:
            raise ConversionError(f"Conversion would write {relative} twice (two source files share a name).")
        parts = PurePosixPath(relative).parts
        path = (self.folder / relative).resolve()
        if not parts or PurePosixPath(relative).is_absolute() or ".." in parts or not path.is_relative_to(self.folder):
            raise ConversionError(
                f"Conversion would write {relative!r}, which is outside the destination folder: output names must "
                "be relative paths inside it."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _record(self, relative: str, path: Path) -> None:
        self.files[relative] = path.stat().st_size

    def copy(self, source: Path, relative: str) -> None:
        """Copy a file byte for byte."""
        path = self.path(relative)
        shutil.copyfile(source, path)
        self._record(relative, path)

    def save_image(self, array: np.ndarray, relative: str) -> None:
        """Write an (H, W) or (H, W, 3) uint8 array as a lossless PNG (deterministic bytes)."""
        path = self.path(relative)
        Image.fromarray(np.ascontiguousarray(array)).save(path, format="PNG", optimize=False)
        self._record(relative, path)

    def save_mask(self, mask: np.ndarray, relative: str) -> None:
        """Write a mask as a {0, 255} PNG (any non-zero pixel is anomalous)."""
        self.save_image(np.where(mask > 0, 255, 0).astype(np.uint8), relative)

    def counts(self) -> dict[str, int]:
        """Images per folder, e.g. ``elpv/train/good`` (masks not counted)."""
        counter: Counter[str] = Counter()
        for relative in self.files:
            parts = relative.split("/")
            if "ground_truth" not in parts:
                counter["/".join(parts[:-1])] += 1
        return dict(sorted(counter.items()))


class Converter(ABC):
    """Turns a raw download into the MVTec layout (or class folders), reproducing a published split.

    Args:
        seed: seed of the normal-image split (InCTRL: 42).
        test_fraction: share of normal images that become test normals (InCTRL: 0.25).
        progress: show a progress bar.
    """

    name: str = "dataset"
    version: int = 1
    raw_layout: str = ""
    split_rule: str = SPLIT_RULE

    def __init__(self, seed: int = 42, test_fraction: float = 0.25, progress: bool = True) -> None:
        self.seed = seed
        self.test_fraction = test_fraction
        self.progress = progress

    def settings(self) -> dict:
        return {"seed": self.seed, "test_fraction": self.test_fraction}

    @abstractmethod
    def convert(self, src: Path, out: Output) -> None:
        """Read ``src`` (never write there) and write the dataset through ``out``."""

    def named_file(self, src: Path, base: Path, named: str, origin: str) -> Path:
        """A source file named in a label file (``origin``: ``labels.csv line 3``): it must stay inside ``src``."""
        path = base / named
        if PurePosixPath(named).is_absolute() or not path.resolve().is_relative_to(src):
            raise ConversionError(
                f"{self.name}: {origin} names {named!r}, which is outside the source folder {src}: a label file may "
                "only name files inside --src."
            )
        return path

    def bar(self, items: Iterable[T], total: int | None = None, desc: str | None = None) -> Iterator[T]:
        """Iterate with a progress bar (shown when ``progress``)."""
        return iter(
            tqdm(
                items,
                total=total,
                desc=desc or f"gad data prepare {self.name}",
                disable=not self.progress,
                unit="file",
                leave=False,
            )
        )

    def layout_error(self, problem: str, src: Path | None = None) -> DataLayoutError:
        """An error naming the problem, what ``src`` looks like instead, and the raw layout expected."""
        from gad.data.sources.layouts import lookalike_hint

        hint = lookalike_hint(src, exclude=self.name, mvtec_is_own=False) if src is not None else ""
        return DataLayoutError(f"{self.name}: {problem}.{hint} Expected the raw download: {self.raw_layout}")

    def reader_path(self) -> str:
        """The class path of the reader of the result, from the dataset registry (``""`` if not registered)."""
        from gad.data.registry import DATASETS  # the registry imports every converter

        spec = DATASETS.find(self.name)
        return spec.reader_path if spec is not None else ""

    def prepare(self, src: str | Path, dst: str | Path) -> ConversionResult:
        """Convert ``src`` into ``dst``, or verify an earlier conversion with the same settings."""
        src, dst = Path(src).expanduser().resolve(), Path(dst).expanduser().resolve()
        if not src.is_dir():
            raise DataLayoutError(
                f"{self.name}: source folder {src} does not exist. Expected the raw download: {self.raw_layout}"
            )
        if src == dst or src in dst.parents or dst in src.parents:
            raise ConversionError(
                f"{self.name}: --dst {dst} must be outside --src {src} (the source is never modified)."
            )
        _refuse_links_out_of(src, self.name)
        manifest_path = dst / MANIFEST_NAME
        if manifest_path.is_file():
            return self._verify(dst, manifest_path)
        if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
            raise ConversionError(
                f"{self.name}: {dst} already exists and is not a gad conversion (no {MANIFEST_NAME}): choose an "
                "empty or new --dst."
            )
        partial = dst.parent / f".{dst.name}.partial"
        if partial.exists():
            if not (partial / PARTIAL_MARKER).is_file():
                raise ConversionError(f"{self.name}: {partial} is in the way and was not written by gad: remove it.")
            shutil.rmtree(partial)
        partial.mkdir(parents=True)
        partial = partial.resolve()
        (partial / PARTIAL_MARKER).write_text("gad conversion in progress\n")
        out = Output(partial)
        try:
            self.convert(src, out)
            if not out.files:
                raise self.layout_error(f"no image found in {src}", src)
        except GadError:
            shutil.rmtree(partial)  # bad input leaves nothing behind (an interrupted run leaves its marked folder)
            raise
        counts = out.counts()
        manifest = {
            "dataset": self.name,
            "converter_version": self.version,
            "settings": self.settings(),
            "split_rule": self.split_rule,
            "reader": self.reader_path(),
            "source": str(src),
            "counts": counts,
            "notes": out.notes,
            "files": dict(sorted(out.files.items())),
        }
        (partial / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n")
        (partial / PARTIAL_MARKER).unlink()
        if dst.is_dir():
            dst.rmdir()
        partial.rename(dst)
        return ConversionResult(self.name, dst, "written", counts)

    def _verify(self, dst: Path, manifest_path: Path) -> ConversionResult:
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as err:
            raise ConversionError(f"{self.name}: cannot read {manifest_path}: {err}") from err
        expected = {"dataset": self.name, "converter_version": self.version, "settings": self.settings()}
        found = {key: manifest.get(key) for key in expected}
        if found != expected:
            raise ConversionError(
                f"{self.name}: {dst} holds another conversion ({found}), not {expected}: choose another --dst or "
                "delete it."
            )
        bad = [
            rel
            for rel, size in manifest["files"].items()
            if not (dst / rel).is_file() or (dst / rel).stat().st_size != size
        ]
        if bad:
            raise ConversionError(
                f"{self.name}: {dst} differs from its manifest ({len(bad)} files missing or changed, e.g. {bad[0]}): "
                "delete it and prepare again."
            )
        return ConversionResult(self.name, dst, "verified", manifest["counts"])


def _refuse_links_out_of(src: Path, name: str) -> None:
    """A symbolic link in the source that leads outside it (an archive can carry ``x.png -> /etc/hostname`` or
    ``-> ../../X``) would copy a file from elsewhere into the dataset: refused, naming the link."""
    for folder, dirs, files in os.walk(src):
        for entry in (*dirs, *files):
            link = Path(folder) / entry
            if link.is_symlink() and not link.resolve().is_relative_to(src):
                raise ConversionError(
                    f"{name}: {link} is a symbolic link to {os.readlink(link)}, outside the source folder {src}: a "
                    "conversion reads only files inside --src (copy the file in, or point --src at its folder)."
                )

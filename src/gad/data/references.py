"""Few-shot references ("sample prompts"): which K normal images each category is judged against.

The choice changes the numbers, so it is data, not code: drawn deterministically from (seed, dataset, category, K),
written as a manifest next to the run's outputs, and readable back so a run can be repeated exactly or use
published lists (``gad.data.reference_formats`` reads every accepted format).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gad.errors import GadError
from gad.output_paths import plain_name, write_atomic

MANIFEST_VERSION = 2
# Leading bytes of files that are not text: torch.save's zip archive and a raw pickle stream.
BINARY_SIGNATURES = {b"PK\x03\x04": "a PyTorch file (torch.save zip archive)", b"\x80": "a pickle file"}


class ReferenceSelectionError(GadError, ValueError):
    """References that cannot be drawn or a manifest that does not fit the data."""


@dataclass
class ReferenceSet:
    """K normal references per category: paths relative to the dataset root, or the K image tensors of an
    InCTRL prompt file (``prompt_files[category]``; ``references`` then names them ``<file>[i]``).

    ``source`` is what was read (``sampled`` for a draw); ``origins`` says, per category and reference, where it
    came from in a published list (``<file>:<line>: <entry>``) or prompt file, so that a run records the official
    entries beside the files they were mapped to.
    """

    dataset: str
    root: str
    shots: int
    seed: int | None
    references: dict[str, list[str]] = field(default_factory=dict)
    source: str = "sampled"
    origins: dict[str, list[str]] = field(default_factory=dict)
    prompt_files: dict[str, str] = field(default_factory=dict)

    def paths(self, category: str) -> list[Path]:
        if category in self.prompt_files:
            raise ReferenceSelectionError(
                f"The references of {self.dataset}/{category} are the tensors of {self.prompt_files[category]}, "
                "not image files."
            )
        return [Path(self.root) / rel for rel in self.references[category]]

    @classmethod
    def read(cls, path: str | Path) -> ReferenceSet:
        """A manifest written by ``save`` (e.g. ``references_<dataset>_k<K>_seed<S>.json`` of a run)."""
        path = Path(path)
        if not path.is_file():
            raise ReferenceSelectionError(f"Reference manifest {path} does not exist.")
        fields = read_manifest_json(path)
        try:
            chosen = cls(**fields)
        except TypeError as err:
            raise ReferenceSelectionError(f"Manifest {path} is not a gad references file ({err}).") from err
        missing = [Path(f) for f in chosen.prompt_files.values() if not Path(f).is_file()] + [
            p
            for category in chosen.references
            if category not in chosen.prompt_files
            for p in chosen.paths(category)
            if not p.is_file()
        ]
        if missing:
            where = (
                ""
                if Path(chosen.root).is_absolute()
                else (
                    f", a path relative to the working directory {Path.cwd()} (manifests of older gad versions: run "
                    "from the folder the run was made in, or set an absolute root in the manifest)"
                )
            )
            raise ReferenceSelectionError(
                f"Manifest {path}: {len(missing)} reference images are missing, e.g. {missing[0]}; the manifest expects "
                f"the dataset under root {chosen.root!r}{where}."
            )
        return chosen

    @property
    def file_name(self) -> str:
        """``references_<dataset>_k<K>_seed<S>.json`` (``..._manifest.json`` for a set read from a list)."""
        draw = f"seed{self.seed}" if self.seed is not None else "manifest"
        return f"references_{plain_name(self.dataset)}_k{self.shots}_{draw}.json"  # a config's name: never a path

    def save(self, path: str | Path) -> Path:
        """Written with the absolute dataset root, so that the manifest works from any working directory."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, self.as_text())
        return path

    def as_text(self) -> str:
        fields = {**asdict(self), "root": str(Path(self.root).expanduser().resolve())}
        return json.dumps({"version": MANIFEST_VERSION, **fields}, indent=2) + "\n"


def write_manifest(chosen: ReferenceSet, folder: str | Path) -> Path | None:
    """Save ``chosen`` as ``folder/<file_name>``; ``None`` when that file already says the same (a fit validates
    on the same references every epoch: written and announced once)."""
    path = Path(folder) / chosen.file_name
    if path.is_file() and path.read_text() == chosen.as_text():
        return None
    return chosen.save(path)


def normal_pool(samples: pd.DataFrame, category: str) -> list[str]:
    """The normal training images of a category, sorted (the order every draw starts from)."""
    rows = samples[(samples["category"] == category) & (samples["split"] == "train") & (samples["label"] == 0)]
    return sorted(rows["path"])


def draw_references(samples: pd.DataFrame, dataset: str, root: str | Path, shots: int, seed: int) -> ReferenceSet:
    """Draw ``shots`` distinct normal training images per category (none for zero-shot); same inputs, same draw,
    on any machine."""
    if shots < 0:
        raise ReferenceSelectionError(f"shots must be 0 or more, got {shots}")
    chosen: dict[str, list[str]] = {}
    for category in sorted(samples["category"].unique()):
        pool = normal_pool(samples, category)
        if shots > len(pool):
            raise ReferenceSelectionError(
                f"{dataset}/{category} has only {len(pool)} normal training images under {root}; "
                f"--shots {shots} needs {shots}. Use --shots {len(pool)} or fewer."
            )
        rng = np.random.default_rng([seed, zlib.crc32(dataset.encode()), zlib.crc32(category.encode()), shots])
        picks = rng.choice(len(pool), size=shots, replace=False)
        chosen[category] = [relative_path(pool[i], root) for i in picks]
    return ReferenceSet(dataset=dataset, root=str(root), shots=shots, seed=seed, references=chosen)


def check_count(path: Path, category: str, chosen: list[str], shots: int) -> None:
    """Exactly K distinct references for a category, or an error naming the list."""
    if len(chosen) != shots or len(set(chosen)) != shots:
        raise ReferenceSelectionError(
            f"Manifest {path} gives {len(chosen)} references ({len(set(chosen))} distinct) for {category!r}; "
            f"--shots {shots} needs {shots} distinct images."
        )


def relative_path(path: str | Path, root: str | Path) -> str:
    path, root = Path(path).resolve(), Path(root).resolve()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def binary_kind(path: Path) -> str | None:
    """What a PyTorch or pickle file is, from its first bytes; ``None`` for other files."""
    with path.open("rb") as handle:
        head = handle.read(4)
    return next((what for magic, what in BINARY_SIGNATURES.items() if head.startswith(magic)), None)


def read_text(path: Path, expected: str) -> str:
    """A text file's content; a binary file (e.g. a ``.pt`` given for a list) is one error naming both."""
    kind = binary_kind(path)
    if kind is None:
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            kind = "a binary file"
    raise ReferenceSelectionError(f"{path} is {kind}, not text; expected {expected}.")


def read_manifest_json(path: Path) -> dict:
    """The fields of a JSON manifest (its ``version`` checked and removed), or an error naming the file."""
    try:
        fields = json.loads(read_text(path, "a gad references manifest (.json)"))
    except json.JSONDecodeError as err:
        raise ReferenceSelectionError(f"Manifest {path} is not a gad references file ({err}).") from err
    if not isinstance(fields, dict):
        raise ReferenceSelectionError(f"Manifest {path} is not a gad references file (not a JSON object).")
    version = fields.pop("version", MANIFEST_VERSION)
    if not isinstance(version, int) or version > MANIFEST_VERSION:
        raise ReferenceSelectionError(
            f"Manifest {path} has version {version!r}; this gad reads versions up to {MANIFEST_VERSION}: upgrade gad."
        )
    return fields

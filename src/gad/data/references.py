"""Few-shot references ("sample prompts"): which K normal images each category is judged against.

The choice changes the numbers, so it is data, not code: drawn deterministically from (seed, dataset, category, K),
written as a manifest next to the run's outputs, and readable back so a run can be repeated exactly or use
published lists.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gad.errors import GadError

MANIFEST_VERSION = 1


class ReferenceSelectionError(GadError, ValueError):
    """References that cannot be drawn or a manifest that does not fit the data."""


@dataclass
class ReferenceSet:
    """K normal training images per category, as paths relative to the dataset root."""

    dataset: str
    root: str
    shots: int
    seed: int | None
    references: dict[str, list[str]] = field(default_factory=dict)
    source: str = "sampled"

    def paths(self, category: str) -> list[Path]:
        return [Path(self.root) / rel for rel in self.references[category]]

    @classmethod
    def read(cls, path: str | Path) -> ReferenceSet:
        """A manifest written by ``save`` (e.g. ``references_<dataset>_k<K>_seed<S>.json`` of a run)."""
        path = Path(path)
        if not path.is_file():
            raise ReferenceSelectionError(f"Reference manifest {path} does not exist.")
        fields = _read_manifest_json(path)
        try:
            chosen = cls(**fields)
        except TypeError as err:
            raise ReferenceSelectionError(f"Manifest {path} is not a gad references file ({err}).") from err
        missing = [p for category in chosen.references for p in chosen.paths(category) if not p.is_file()]
        if missing:
            where = "" if Path(chosen.root).is_absolute() else (
                f", a path relative to the working directory {Path.cwd()} (manifests of older gad versions: run "
                "from the folder the run was made in, or set an absolute root in the manifest)")
            raise ReferenceSelectionError(
                f"Manifest {path}: {len(missing)} reference images are missing, e.g. {missing[0]}; the manifest expects "
                f"the dataset under root {chosen.root!r}{where}."
            )
        return chosen

    def save(self, path: str | Path) -> Path:
        """Written with the absolute dataset root, so that the manifest works from any working directory."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fields = {**asdict(self), "root": str(Path(self.root).expanduser().resolve())}
        path.write_text(json.dumps({"version": MANIFEST_VERSION, **fields}, indent=2) + "\n")
        return path


def normal_pool(samples: pd.DataFrame, category: str) -> list[str]:
    """The normal training images of a category, sorted (the order every draw starts from)."""
    rows = samples[(samples["category"] == category) & (samples["split"] == "train") & (samples["label"] == 0)]
    return sorted(rows["path"])


def draw_references(samples: pd.DataFrame, dataset: str, root: str | Path, shots: int, seed: int) -> ReferenceSet:
    """Draw ``shots`` distinct normal training images per category; same inputs, same draw, on any machine."""
    if shots < 1:
        raise ReferenceSelectionError(f"shots must be at least 1, got {shots}")
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
        chosen[category] = [_relative(pool[i], root) for i in picks]
    return ReferenceSet(dataset=dataset, root=str(root), shots=shots, seed=seed, references=chosen)


def load_references(manifest: str | Path, samples: pd.DataFrame, dataset: str, root: str | Path, shots: int) -> ReferenceSet:
    """Read references from a manifest: a ``.json`` written by gad, a ``.txt`` list of image paths (one per line,
    relative to the dataset root or absolute), or a folder holding ``k{shots}.json`` / ``k{shots}.txt``."""
    path = _manifest_file(Path(manifest), shots)
    if path.suffix == ".json":
        listed = _read_manifest_json(path).get("references")
        if not isinstance(listed, dict):
            raise ReferenceSelectionError(f"Manifest {path} is not a gad references file (no 'references' mapping).")
    else:
        listed = _group_by_category(path, samples, root)
    chosen: dict[str, list[str]] = {}
    for category in sorted(samples["category"].unique()):
        entries = listed.get(category)
        if entries is None:
            raise ReferenceSelectionError(f"Manifest {path} lists no references for category {category!r} of {dataset}.")
        pool = {_relative(p, root) for p in normal_pool(samples, category)}
        rel = [_relative(Path(root) / e if not Path(e).is_absolute() else e, root) for e in entries]
        outside = [e for e in rel if e not in pool]
        if outside:
            raise ReferenceSelectionError(
                f"Manifest {path}: {outside[:3]} are not normal training images of {dataset}/{category} under {root}."
            )
        if len(rel) != shots or len(set(rel)) != shots:
            raise ReferenceSelectionError(
                f"Manifest {path} gives {len(rel)} references ({len(set(rel))} distinct) for {category!r}; "
                f"--shots {shots} needs {shots} distinct images."
            )
        chosen[category] = rel
    return ReferenceSet(dataset, str(root), shots, None, chosen, source=str(path))


def _manifest_file(manifest: Path, shots: int) -> Path:
    if manifest.is_dir():
        for name in (f"k{shots}.json", f"k{shots}.txt"):
            if (manifest / name).is_file():
                return manifest / name
        raise ReferenceSelectionError(f"Reference folder {manifest} has no k{shots}.json or k{shots}.txt for --shots {shots}.")
    if not manifest.is_file():
        raise ReferenceSelectionError(f"Reference manifest {manifest} does not exist.")
    return manifest


def _group_by_category(path: Path, samples: pd.DataFrame, root: str | Path) -> dict[str, list[str]]:
    category_of = {_relative(p, root): c for p, c in zip(samples["path"], samples["category"])}
    grouped: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        rel = _relative(Path(root) / entry if not Path(entry).is_absolute() else entry, root)
        if rel not in category_of:
            raise ReferenceSelectionError(f"{path}:{number}: {entry} is not an image of the dataset under {root}.")
        grouped.setdefault(category_of[rel], []).append(rel)
    return grouped


def _relative(path: str | Path, root: str | Path) -> str:
    path, root = Path(path).resolve(), Path(root).resolve()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _read_manifest_json(path: Path) -> dict:
    """The fields of a JSON manifest (its ``version`` checked and removed), or an error naming the file."""
    try:
        fields = json.loads(path.read_text())
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

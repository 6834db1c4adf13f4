"""Reading references from every accepted format, recognised from the files themselves.

- a gad manifest: a ``.json`` written by a run, or a ``.txt`` list of image paths (one per line, relative to the
  dataset root or absolute), or a folder holding ``k{K}.json`` / ``k{K}.txt``;
- a DictAS ``fix_few_path/<dataset>`` folder or one ``fix_{K}-shot.txt`` list (``gad.data.dictas_lists``);
- an InCTRL ``fs_samples/<dataset>/<K>`` folder of ``<category>.pt`` prompt files, or one such file
  (``gad.data.prompt_files``).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from pathlib import Path

import pandas as pd

from gad.data.dictas_lists import FIX_LIST, fix_list_in_folder, is_fix_list, read_fix_list
from gad.data.prompt_files import is_prompt_file, prompt_file_set, prompt_folder
from gad.data.references import (
    ReferenceSelectionError,
    ReferenceSet,
    check_count,
    normal_pool,
    read_manifest_json,
    read_text,
    relative_path,
)


def accepted(shots: int) -> str:
    """The accepted formats, for error messages."""
    return (
        f"a gad manifest (.json of a run, .txt list of image paths, or a folder with k{shots}.json/k{shots}.txt), "
        f"a DictAS fix_few_path/<dataset> folder or fix_{shots}-shot.txt list, or an InCTRL "
        f"fs_samples/<dataset>/{shots} folder of <category>.pt prompt files"
    )


def load_references(
    manifest: str | Path, samples: pd.DataFrame, dataset: str, root: str | Path, shots: int
) -> ReferenceSet:
    """The K references per category of ``samples`` that ``manifest`` names, in any accepted format."""
    path = Path(manifest)
    if path.is_dir():
        return _from_folder(path, samples, dataset, root, shots)
    if not path.is_file():
        raise ReferenceSelectionError(f"Reference manifest {path} does not exist (expected {accepted(shots)}).")
    if is_prompt_file(path):
        return prompt_file_set(path, samples, dataset, root, shots)
    if path.suffix == ".json":
        return _from_gad_json(path, samples, dataset, root, shots)
    lines = read_text(path, f"a list of references: {accepted(shots)}").splitlines()
    if is_fix_list(lines, root):
        return read_fix_list(path, lines, samples, dataset, root, shots)
    return _from_path_list(path, lines, samples, dataset, root, shots)


def _from_folder(folder: Path, samples: pd.DataFrame, dataset: str, root: str | Path, shots: int) -> ReferenceSet:
    for name in (f"k{shots}.json", f"k{shots}.txt"):
        if (folder / name).is_file():
            return load_references(folder / name, samples, dataset, root, shots)
    if any(folder.glob(FIX_LIST.format(shots="*"))):
        fix_list = fix_list_in_folder(folder, shots)
        return read_fix_list(fix_list, read_text(fix_list, "a DictAS list").splitlines(), samples, dataset, root, shots)
    prompts = prompt_folder(folder, shots)
    if prompts is not None:
        return prompt_file_set(prompts, samples, dataset, root, shots)
    raise ReferenceSelectionError(
        f"Reference folder {folder} holds no references for --shots {shots}: expected k{shots}.json or k{shots}.txt "
        f"(gad), fix_{shots}-shot.txt (DictAS fix_few_path/<dataset>), <category>.pt files (InCTRL "
        f"fs_samples/<dataset>/{shots}) or a sub-folder {shots}/ of them (fs_samples/<dataset>)."
    )


def _from_gad_json(path: Path, samples: pd.DataFrame, dataset: str, root: str | Path, shots: int) -> ReferenceSet:
    """A manifest of an earlier run: its image paths checked against the data, its prompt files re-read later."""
    fields = read_manifest_json(path)
    listed, prompt_files, origins = (fields.get(key, {}) for key in ("references", "prompt_files", "origins"))
    if not all(isinstance(f, dict) for f in (listed, prompt_files, origins)) or not listed:
        raise ReferenceSelectionError(f"Manifest {path} is not a gad references file (no 'references' mapping).")
    chosen = _checked(path, listed, samples, dataset, root, shots, skip=set(prompt_files))
    prompt_files = {c: f for c, f in prompt_files.items() if c in chosen}
    for category, file in prompt_files.items():
        if not Path(file).is_file():
            raise ReferenceSelectionError(f"Manifest {path}: the prompt file {file} of {category!r} does not exist.")
    origins = {c: o for c, o in origins.items() if c in chosen}
    return ReferenceSet(dataset, str(root), shots, None, chosen, str(path), origins, prompt_files)


def _from_path_list(
    path: Path, lines: list[str], samples: pd.DataFrame, dataset: str, root: str | Path, shots: int
) -> ReferenceSet:
    """A gad text list: image paths (relative to the root or absolute), grouped by the category they belong to."""
    category_of = {relative_path(p, root): c for p, c in zip(samples["path"], samples["category"])}
    grouped: dict[str, list[str]] = {}
    for number, line in enumerate(lines, start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        rel = relative_path(Path(root) / entry if not Path(entry).is_absolute() else entry, root)
        if rel not in category_of:
            raise ReferenceSelectionError(f"{path}:{number}: {entry} is not an image of the dataset under {root}.")
        grouped.setdefault(category_of[rel], []).append(rel)
    return ReferenceSet(
        dataset, str(root), shots, None, _checked(path, grouped, samples, dataset, root, shots), str(path)
    )


def _checked(
    path: Path,
    listed: dict[str, list[str]],
    samples: pd.DataFrame,
    dataset: str,
    root: str | Path,
    shots: int,
    skip: AbstractSet[str] = frozenset(),
) -> dict[str, list[str]]:
    """``listed`` for every category of ``samples``: K distinct normal training images each (``skip``: categories
    whose references are not image files)."""
    chosen: dict[str, list[str]] = {}
    for category in sorted(samples["category"].unique()):
        entries = listed.get(category)
        if entries is None:
            raise ReferenceSelectionError(
                f"Manifest {path} lists no references for category {category!r} of {dataset}."
            )
        if category in skip:
            chosen[category] = list(entries)
            continue
        pool = {relative_path(p, root) for p in normal_pool(samples, category)}
        rel = [relative_path(Path(root) / e if not Path(e).is_absolute() else e, root) for e in entries]
        outside = [e for e in rel if e not in pool]
        if outside:
            raise ReferenceSelectionError(
                f"Manifest {path}: {outside[:3]} are not normal training images of {dataset}/{category} under {root}."
            )
        check_count(path, category, rel, shots)
        chosen[category] = rel
    return chosen

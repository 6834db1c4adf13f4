"""Recognise which dataset a folder holds, so that a reader given the wrong folder can say what it looks like.

Each dataset's ``Signature`` (in its ``DatasetSpec``) says how to recognise it; this module tries them, then the
layouts that belong to no single dataset. The helpers look at a few levels only, never walk a whole tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from gad.data.images import IMAGE_SUFFIXES


def subdirs(folder: Path) -> list[Path]:
    """The sub-folders of ``folder``, sorted (none where it cannot be listed)."""
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []


def any_of(paths: Iterable[object]) -> bool:
    """Whether ``paths`` yields anything (stops at the first)."""
    return any(True for _ in paths)


def shallow(root: Path, pattern: str, depth: int = 3) -> Iterator[Path]:
    """Matches of ``pattern`` in ``root`` and up to ``depth - 1`` levels below (never a full-tree walk)."""
    for level in range(depth):
        yield from root.glob("/".join(["*"] * level + [pattern]))


def _is_class_folders(root: Path) -> bool:
    for top in [root, *subdirs(root)]:
        for split in ("train", "training"):
            classes = subdirs(top / split)
            if classes and not (top / split / "good").is_dir():
                return True
    return False


def detect_layout(root: str | Path) -> tuple[str, str] | None:
    """``(key, description)`` of the first known layout ``root`` matches, or ``None``: a registered dataset's
    (key: its name), class folders (``class_folders``) or a flat folder of images (``images``)."""
    from gad.data.registry import DATASETS  # the registry imports every reader

    root = Path(root)
    if not root.is_dir():
        return None
    for spec in DATASETS.with_signatures():
        if spec.signature is not None and spec.signature.matches(root):
            return spec.name, spec.hint(root)
    if _is_class_folders(root):
        return "class_folders", (
            "class folders ({train,test}/<class>/*.png, as MNIST/CIFAR-10): read it with "
            "gad.data.sources.MNIST or gad.data.sources.CIFAR10"
        )
    if any_of(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        return "images", "a flat folder of images (no normal/anomalous structure): see gad.data.sources.Folder"
    return None


def lookalike_hint(root: str | Path, exclude: str, mvtec_is_own: bool = True) -> str:
    """`` This folder looks like ...`` unless ``root`` looks like nothing known or like ``exclude``'s own layout
    (with ``mvtec_is_own``, the MVTec layout counts as its own for the readers of MVTec-like folders)."""
    from gad.data.registry import DATASETS

    found = detect_layout(root)
    if found is None:
        return ""
    key, description = found
    own = DATASETS.find(exclude)
    if key == exclude or (key == "mvtec" and mvtec_is_own and own is not None and own.mvtec_like):
        return ""
    return f" {root} looks like {description}."

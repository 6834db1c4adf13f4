"""Recognise which dataset a folder holds, so that a reader given the wrong folder can say what it looks like."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gad.data.images import IMAGE_SUFFIXES


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []


def _any(paths) -> bool:
    return any(True for _ in paths)


def _shallow(root: Path, pattern: str, depth: int = 3):
    """Matches of ``pattern`` in ``root`` and up to ``depth - 1`` levels below (never a full-tree walk)."""
    for level in range(depth):
        yield from root.glob("/".join(["*"] * level + [pattern]))


def _is_visa(root: Path) -> bool:
    if (root / "split_csv" / "1cls.csv").is_file():
        return True
    return _any(d for d in _subdirs(root) if (d / "Data" / "Images").is_dir())


def _is_mvtec3d(root: Path) -> bool:
    return _any(
        d for d in _subdirs(root) if (d / "train" / "good" / "rgb").is_dir() or _any((d / "test").glob("*/rgb"))
    )


def _is_btad(root: Path) -> bool:
    return _any(d for d in _subdirs(root) if (d / "train" / "ok").is_dir())


def _is_mvtec_like(root: Path) -> bool:
    good = [d / "train" / "good" for d in _subdirs(root)]
    return _any(g for g in good if g.is_dir() and not (g / "rgb").is_dir())


def _is_kolektor(root: Path) -> bool:
    return _any(d for d in _subdirs(root) if d.name.lower().startswith("kos") and _any(d.glob("Part*")))


def _is_aitex(root: Path) -> bool:
    return (root / "NODefect_images").is_dir() or (root / "Defect_images").is_dir()


def _is_elpv(root: Path) -> bool:
    return _any(_shallow(root, "images/cell*.png", depth=4))


def _is_headct(root: Path) -> bool:
    return (root / "labels.csv").is_file() and (root / "head_ct").is_dir()


def _is_brainmri(root: Path) -> bool:
    return ((root / "no").is_dir() and (root / "yes").is_dir()) or (root / "brain_tumor_dataset").is_dir()


def _is_mnist_raw(root: Path) -> bool:
    return _any(_shallow(root, "*idx3-ubyte*"))


def _is_cifar_raw(root: Path) -> bool:
    return _any(_shallow(root, "data_batch_1"))


def _is_class_folders(root: Path) -> bool:
    for top in [root, *_subdirs(root)]:
        for split in ("train", "training"):
            classes = _subdirs(top / split)
            if classes and not (top / split / "good").is_dir():
                return True
    return False


def _is_meta_json(root: Path) -> bool:
    return _any(root.glob("meta*.json"))


def _is_folder(root: Path) -> bool:
    return any((d / "normal").is_dir() or (d / "good").is_dir() for d in [root, *_subdirs(root)])


def _prepare(name: str, what: str) -> str:
    return f"{what}: convert it with `gad data prepare {name} --src {{root}} --dst <new folder>`"


def _reader(what: str, reader: str) -> str:
    return f"{what}: read it with gad.data.sources.{reader}"


# Most specific first: the first match is reported. ``{root}`` is replaced by the folder.
SIGNATURES: list[tuple[str, str, Callable[[Path], bool]]] = [
    ("visa", _reader("the VisA download (split_csv/1cls.csv, {{category}}/Data/Images)", "VisA"), _is_visa),
    ("mvtec3d", _reader("MVTec 3D-AD ({{category}}/train/good/rgb)", "MVTec3D"), _is_mvtec3d),
    ("btad", _reader("BTAD ({{01,02,03}}/train/ok, test/ko)", "BTAD"), _is_btad),
    ("kolektorsdd", _prepare("kolektorsdd", "the raw KolektorSDD download (kos01/Part0.jpg)"), _is_kolektor),
    ("aitex", _prepare("aitex", "the raw AITEX download (NODefect_images, Defect_images)"), _is_aitex),
    ("headct", _prepare("headct", "the raw HeadCT download (labels.csv, head_ct/)"), _is_headct),
    ("elpv", _prepare("elpv", "the raw ELPV download (labels.csv, images/cell*.png)"), _is_elpv),
    ("brainmri", _prepare("brainmri", "the raw BrainMRI download (no/, yes/)"), _is_brainmri),
    ("mnist", _prepare("mnist", "the MNIST idx files"), _is_mnist_raw),
    ("cifar10", _prepare("cifar10", "the CIFAR-10 python batches"), _is_cifar_raw),
    ("mvtec", _reader("the MVTec AD layout ({{category}}/train/good, test/<defect>)", "MVTecLayout (or the "
                      "dataset's own reader)"), _is_mvtec_like),
    ("class_folders", _reader("class folders ({{train,test}}/<class>/*.png, as MNIST/CIFAR-10)", "MNIST or "
                              "gad.data.sources.CIFAR10"), _is_class_folders),
    ("metajson", _reader("a meta.json dataset", "MetaJson"), _is_meta_json),
    ("folder", _reader("a folder of normal/abnormal images", "Folder"), _is_folder),
]

# Readers that read the MVTec layout, i.e. for which an MVTec-like folder is not "another dataset's" layout.
MVTEC_READERS = {
    "mvtec", "mpdd", "resc", "brats", "kolektorsdd", "aitex", "elpv", "brainmri", "headct", "quickstart", "btad",
}


def detect_layout(root: str | Path) -> tuple[str, str] | None:
    """``(key, description)`` of the first known layout ``root`` matches, or ``None``."""
    root = Path(root)
    if not root.is_dir():
        return None
    for key, description, matches in SIGNATURES:
        if matches(root):
            return key, description
    if _any(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        return "images", "a flat folder of images (no normal/anomalous structure): see gad.data.sources.Folder"
    return None


def lookalike_hint(root: str | Path, exclude: str, mvtec_is_own: bool = True) -> str:
    """`` This folder looks like ...`` unless ``root`` looks like nothing known or like ``exclude``'s own layout
    (with ``mvtec_is_own``, the MVTec layout counts as its own for the readers of MVTec-like folders)."""
    found = detect_layout(root)
    if found is None:
        return ""
    key, description = found
    if key == exclude or (key == "mvtec" and mvtec_is_own and exclude in MVTEC_READERS):
        return ""
    return f" {root} looks like {description.format(root=root)}."

"""DictAS's published reference lists (``fix_few_path/<dataset>/fix_{K}-shot.txt``), mapped back to the files of
the original dataset layouts that gad reads.

The authors list images of their converted copy (``dataset/make_dataset.py``), where every image was renamed
``<prefix>_[<original stem>_]<id:06d>.bmp``, the id being a counter that runs over the whole dataset: class by
class in a fixed order, the sorted training images first, then every sorted test folder. So:

- MVTec AD (``mvtec_<id>``) and MVTec 3D-AD (``mvtec3D_<id>``) keep no name: training image ``id - start`` of its
  class, ``train/good/{i:03d}.png`` (3D: ``train/good/rgb/``), where ``start`` sums the training and test images
  of the earlier classes, counted in the dataset on disk;
- VisA, MPDD and BTAD (``visa_0246_000390``) keep the original stem (``0246``): the class's normal training image
  with that stem.

A line belongs to the class of its folder (``visa/<class>/train/good/...``), which is what the official substring
match (``cls_name in line``, ``fryum`` excluding ``pipe_fryum``) selects on the published lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gad.data.images import list_images
from gad.data.references import ReferenceSelectionError, ReferenceSet, check_count, normal_pool, relative_path
from gad.data.sources.btad import BTAD_NAMES
from gad.data.sources.mpdd import MPDD_CATEGORIES
from gad.data.sources.mvtec import MVTEC_AD_CATEGORIES
from gad.data.sources.mvtec3d import MVTEC3D_CATEGORIES
from gad.data.sources.visa import VISA_CATEGORIES

FIX_LIST = "fix_{shots}-shot.txt"
FIX_LIST_NAME = re.compile(r"fix_(\d+)-shot\.txt")
ENTRY = re.compile(
    r"^(?:.*/)?(?P<cls>[^/]+)/train/good/(?P<prefix>mvtec3D|mvtec|visa|MPDD|BTAD)_(?:(?P<stem>.+)_)?(?P<id>\d+)\.bmp$"
)
ENTRY_HELP = "<dataset>/<class>/train/good/<prefix>_[<original stem>_]<id>.bmp"


@dataclass(frozen=True)
class RunningIndex:
    """A dataset whose converted names keep only the running id: its classes in the authors' order, where a
    class's training images are and where the images of each of its test folders are."""

    classes: tuple[str, ...]
    train: str
    test_images: str


RUNNING_INDEX = {
    "mvtec": RunningIndex(MVTEC_AD_CATEGORIES, "train/good", "."),
    "mvtec3D": RunningIndex(MVTEC3D_CATEGORIES, "train/good/rgb", "rgb"),
}
EMBEDDED_STEM = {"visa": VISA_CATEGORIES, "MPDD": MPDD_CATEGORIES, "BTAD": tuple(BTAD_NAMES.values())}
BTAD_FOLDERS = {name: folder for folder, name in BTAD_NAMES.items()}  # BTAD read with ``rename: false``


def is_fix_list(lines: list[str], root: str | Path) -> bool:
    """Whether a text list holds DictAS entries (and not paths of a dataset that is itself in the authors' layout,
    which a gad list names directly)."""
    entries = [e for e in (line.strip() for line in lines) if e and not e.startswith("#")]
    matching = [e for e in entries if ENTRY.match(e)]
    return bool(matching) and not (Path(root) / matching[0]).is_file()


def fix_list_in_folder(folder: Path, shots: int) -> Path:
    """``fix_{K}-shot.txt`` of a ``fix_few_path/<dataset>`` folder, or an error listing the K it has."""
    chosen = folder / FIX_LIST.format(shots=shots)
    if chosen.is_file():
        return chosen
    available = sorted(int(m.group(1)) for f in folder.iterdir() if (m := FIX_LIST_NAME.fullmatch(f.name)))
    raise ReferenceSelectionError(
        f"DictAS folder {folder} has no {chosen.name} for --shots {shots}; it has lists for K = {available}."
    )


def read_fix_list(
    path: Path, lines: list[str], samples: pd.DataFrame, dataset: str, root: str | Path, shots: int
) -> ReferenceSet:
    """The references of every category of ``samples``, mapped from a DictAS list; lines of classes that are not
    evaluated here are left out (the lists cover a whole dataset); any other line that does not map is an error."""
    named = FIX_LIST_NAME.fullmatch(path.name)
    if named and int(named.group(1)) != shots:
        raise ReferenceSelectionError(
            f"{path} is the DictAS {named.group(1)}-shot list; --shots {shots} needs fix_{shots}-shot.txt."
        )
    categories = set(samples["category"])
    mapper = _Mapper(samples, dataset, Path(root))
    chosen: dict[str, list[str]] = {}
    origins: dict[str, list[str]] = {}
    for number, line in enumerate(lines, start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        where = f"{path}:{number}: {entry}"
        match = ENTRY.match(entry)
        if match is None:
            raise ReferenceSelectionError(f"{where} is not a DictAS list entry ({ENTRY_HELP}).")
        prefix, cls = match["prefix"], match["cls"]
        known = RUNNING_INDEX[prefix].classes if prefix in RUNNING_INDEX else EMBEDDED_STEM[prefix]
        category = cls if cls in categories else BTAD_FOLDERS.get(cls) if prefix == "BTAD" else None
        if category is None or category not in categories:
            if cls in known:
                continue  # a class of the published list that this run does not evaluate
            raise ReferenceSelectionError(
                f"{where}: class {cls!r} is neither one of the authors' {prefix} classes ({', '.join(known)}) nor a "
                f"category of {dataset} ({', '.join(sorted(categories))})."
            )
        if prefix in RUNNING_INDEX:
            if match["stem"] is not None:
                raise ReferenceSelectionError(f"{where}: a {prefix} training image is named {prefix}_<id>.bmp.")
            image = mapper.by_running_index(RUNNING_INDEX[prefix], cls, category, int(match["id"]), where)
        else:
            if match["stem"] is None:
                raise ReferenceSelectionError(
                    f"{where}: a {prefix} name embeds the original stem ({prefix}_<stem>_<id>)."
                )
            image = mapper.by_stem(category, match["stem"], where)
        chosen.setdefault(category, []).append(relative_path(image, root))
        origins.setdefault(category, []).append(where)
    for category in sorted(categories):
        if category not in chosen:
            raise ReferenceSelectionError(f"DictAS list {path} has no line for category {category!r} of {dataset}.")
        check_count(path, category, chosen[category], shots)
    return ReferenceSet(
        dataset, str(root), shots, None, dict(sorted(chosen.items())), str(path), dict(sorted(origins.items()))
    )


class _Mapper:
    """Finds the original file of an entry among a category's normal training images."""

    def __init__(self, samples: pd.DataFrame, dataset: str, root: Path) -> None:
        self.samples, self.dataset, self.root = samples, dataset, root
        self._ids: dict[RunningIndex, tuple[dict[str, tuple[int, int]], str | None]] = {}

    def by_running_index(self, rule: RunningIndex, cls: str, category: str, ident: int, where: str) -> str:
        if cls not in rule.classes:
            raise ReferenceSelectionError(
                f"{where}: {cls!r} is not one of the authors' classes ({', '.join(rule.classes)}), so its running id "
                "cannot be mapped."
            )
        if rule not in self._ids:
            self._ids[rule] = _class_ids(rule, self.root)
        ids, missing = self._ids[rule]
        if cls not in ids:
            raise ReferenceSelectionError(
                f"{where}: the authors' ids count the images of every class before {cls!r} in their order "
                f"({', '.join(rule.classes)}), and {self.root / str(missing)} does not exist."
            )
        start, train = ids[cls]
        index = ident - start
        if not 0 <= index < train:
            raise ReferenceSelectionError(
                f"{where}: id {ident} is not a training image of {cls!r}: counting the images under {self.root}, "
                f"its {train} training images have the ids {start}..{start + train - 1}."
            )
        return self._in_pool(category, self.root / cls / rule.train / f"{index:03d}.png", where)

    def by_stem(self, category: str, stem: str, where: str) -> str:
        found = [p for p in normal_pool(self.samples, category) if Path(p).stem == stem]
        if len(found) != 1:
            what = "no" if not found else f"{len(found)} ({', '.join(found[:3])})"
            raise ReferenceSelectionError(
                f"{where}: {what} normal training image of {self.dataset}/{category} has the original stem "
                f"{stem!r} under {self.root}; expected exactly one."
            )
        return found[0]

    def _in_pool(self, category: str, image: Path, where: str) -> str:
        pool = {relative_path(p, self.root) for p in normal_pool(self.samples, category)}
        if relative_path(image, self.root) not in pool:
            raise ReferenceSelectionError(
                f"{where}: maps to {image}, which is not a normal training image of {self.dataset}/{category}."
            )
        return str(image)


def _class_ids(rule: RunningIndex, root: Path) -> tuple[dict[str, tuple[int, int]], str | None]:
    """(first id, number of training images) of each class in the authors' order, as long as the classes exist
    under ``root``; and the first class that does not (``None`` if all do)."""
    ids: dict[str, tuple[int, int]] = {}
    start = 0
    for cls in rule.classes:
        folder = root / cls
        if not folder.is_dir():
            return ids, cls
        train = _count(folder / rule.train)
        tests = sorted(p for p in (folder / "test").iterdir() if p.is_dir()) if (folder / "test").is_dir() else []
        ids[cls] = (start, train)
        start += train + sum(_count(test / rule.test_images) for test in tests)
    return ids, None


def _count(folder: Path) -> int:
    return len(list_images(folder)) if folder.is_dir() else 0

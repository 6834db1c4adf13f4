"""DictAS's published reference lists (fix_few_path) replayed on the original dataset layouts.

The expected files are computed here from the rule in the spec (Appendix A): a running id over the whole
dataset, class by class in the authors' order, train images first then every test folder; MVTec AD / 3D-AD map
by ``id - class start``, VisA / MPDD / BTAD by the original stem embedded in the name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gad.data.datamodule import FewShotDataModule
from gad.data.preprocessing import Preprocessing
from gad.data.reference_formats import load_references
from gad.data.references import ReferenceSelectionError, ReferenceSet
from gad.data.sources import BTAD, MPDD, MVTec3D, MVTecAD, SampleSource, VisA
from tests.fixtures import raw_datasets as raw

# Different sizes per class, so that a start computed from the wrong counts or order lands elsewhere.
MVTEC = {
    "bottle": {"train": 4, "good": 2, "defects": {"broken": 1}},
    "cable": {"train": 3, "good": 1, "defects": {"bent": 1, "crack": 2}},
    "capsule": {"train": 5, "good": 1, "defects": {"squeeze": 1}},
}


def write_list(folder: Path, shots: int, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"fix_{shots}-shot.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def load(path: Path, source: SampleSource, shots: int) -> ReferenceSet:
    return load_references(path, source.samples(), source.name, source.root, shots)


def mapped(chosen: ReferenceSet, category: str) -> list[str]:
    return [p.as_posix() for p in chosen.paths(category)]


@pytest.fixture(scope="module")
def mvtec_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mvtec")
    for category, sizes in MVTEC.items():
        raw.write_mvtec(root, (category,), sizes["train"], sizes["good"], sizes["defects"])
    return root


def mvtec_start(category: str) -> int:
    """Sum of the train + test images of the classes before ``category`` in the authors' order."""
    order = list(MVTEC)  # bottle, cable, capsule: the first three of the official order
    earlier = order[: order.index(category)]
    return sum(MVTEC[c]["train"] + MVTEC[c]["good"] + sum(MVTEC[c]["defects"].values()) for c in earlier)


def test_mvtec_ids_map_to_the_original_training_files(mvtec_root: Path, tmp_path: Path) -> None:
    assert (mvtec_start("cable"), mvtec_start("capsule")) == (7, 14)
    picks = {"bottle": [3, 0], "cable": [2, 1], "capsule": [4, 0]}
    lines = [f"mvtec/{c}/train/good/mvtec_{mvtec_start(c) + i:06d}.bmp" for c, ids in picks.items() for i in ids]
    lines.append("mvtec/zipper/train/good/mvtec_005088.bmp")  # a class of the list that is not on disk
    path = write_list(tmp_path / "fix_few_path" / "mvtec", 2, lines)
    chosen = load(path.parent, MVTecAD(str(mvtec_root)), shots=2)
    for category, ids in picks.items():
        assert mapped(chosen, category) == [
            (mvtec_root / category / "train/good" / f"{i:03d}.png").as_posix() for i in ids
        ]
    assert chosen.source == str(path)
    assert chosen.origins["cable"] == [f"{path}:3: {lines[2]}", f"{path}:4: {lines[3]}"]
    # a run that evaluates one class still numbers from the classes before it on disk
    only_capsule = load(path, MVTecAD(str(mvtec_root), categories=["capsule"]), shots=2)
    assert list(only_capsule.references) == ["capsule"] and mapped(only_capsule, "capsule") == mapped(chosen, "capsule")


def test_mvtec3d_ids_count_rgb_images_and_not_validation(tmp_path: Path) -> None:
    root = tmp_path / "mvtec3d"
    sizes = raw.write_mvtec3d(root, ("bagel", "cable_gland"))
    per_class = sizes["train"] + sizes["test_normal"] + sizes["test_anomalous"]  # 3 + 2 + 2, validation left out
    lines = [
        "mvtec3D/bagel/train/good/mvtec3D_000002.bmp",
        f"mvtec3D/cable_gland/train/good/mvtec3D_{per_class + 1:06d}.bmp",
    ]
    path = write_list(tmp_path / "lists", 1, lines)
    for source in (MVTec3D(str(root)), MVTec3D(str(root), include_validation=True)):
        chosen = load(path, source, shots=1)
        assert mapped(chosen, "bagel") == [(root / "bagel/train/good/rgb/002.png").as_posix()]
        assert mapped(chosen, "cable_gland") == [(root / "cable_gland/train/good/rgb/001.png").as_posix()]


def test_visa_maps_by_embedded_stem_and_keeps_fryum_apart_from_pipe_fryum(tmp_path: Path) -> None:
    root = tmp_path / "visa"
    raw.write_visa(root, ("candle", "fryum", "pipe_fryum"))
    lines = [
        "visa/pipe_fryum/train/good/visa_0002_010460.bmp",
        "visa/candle/train/good/visa_0001_000390.bmp",
        "visa/fryum/train/good/visa_0000_003088.bmp",
        "visa/pcb1/train/good/visa_0001_005854.bmp",  # a VisA class this dataset does not have
    ]
    chosen = load(write_list(tmp_path / "lists", 1, lines), VisA(str(root)), shots=1)
    assert mapped(chosen, "candle") == [(root / "candle/Data/Images/Normal/0001.JPG").as_posix()]
    assert mapped(chosen, "fryum") == [(root / "fryum/Data/Images/Normal/0000.JPG").as_posix()]
    assert mapped(chosen, "pipe_fryum") == [(root / "pipe_fryum/Data/Images/Normal/0002.JPG").as_posix()]


def test_mpdd_and_btad_map_by_embedded_stem(tmp_path: Path) -> None:
    mpdd = tmp_path / "mpdd"
    raw.write_mvtec(mpdd, ("bracket_black", "tubes"))
    lines = ["MPDD/tubes/train/good/MPDD_002_001170.bmp", "MPDD/bracket_black/train/good/MPDD_000_000164.bmp"]
    chosen = load(write_list(tmp_path / "mpdd_lists", 1, lines), MPDD(str(mpdd)), shots=1)
    assert mapped(chosen, "tubes") == [(mpdd / "tubes/train/good/002.png").as_posix()]
    assert mapped(chosen, "bracket_black") == [(mpdd / "bracket_black/train/good/000.png").as_posix()]

    btad = tmp_path / "btad"
    raw.write_btad(btad)
    lines = [
        "BTAD/metal2/train/good/BTAD_0001_002080.bmp",
        "BTAD/wood/train/good/BTAD_0002_000782.bmp",
        "BTAD/metal1/train/good/BTAD_0000_000040.bmp",
    ]
    path = write_list(tmp_path / "btad_lists", 1, lines)
    expected = {"metal1": "01/train/ok/0000.bmp", "wood": "02/train/ok/0002.png", "metal2": "03/train/ok/0001.bmp"}
    chosen = load(path, BTAD(str(btad)), shots=1)
    assert {c: mapped(chosen, c) for c in expected} == {c: [(btad / rel).as_posix()] for c, rel in expected.items()}
    by_folder = load(path, BTAD(str(btad), rename=False), shots=1)  # categories 01, 02, 03
    assert mapped(by_folder, "02") == [(btad / expected["wood"]).as_posix()]


def test_folder_picks_the_list_of_k_and_the_run_manifest_records_the_entries(mvtec_root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "fix_few_path" / "mvtec"
    write_list(folder, 1, [f"mvtec/{c}/train/good/mvtec_{mvtec_start(c):06d}.bmp" for c in MVTEC])
    two = write_list(
        folder, 2, [f"mvtec/{c}/train/good/mvtec_{mvtec_start(c) + i:06d}.bmp" for c in MVTEC for i in (1, 2)]
    )
    source = MVTecAD(str(mvtec_root), categories=["bottle", "cable"])
    datamodule = FewShotDataModule(source, source, shots=2, references=str(folder))
    datamodule.preprocessing = Preprocessing(32)
    saved = json.loads(datamodule.save_references("test", tmp_path / "run").read_text())
    assert saved["source"] == str(two)
    assert saved["references"]["cable"] == ["cable/train/good/001.png", "cable/train/good/002.png"]
    assert saved["origins"]["cable"] == [
        f"{two}:3: mvtec/cable/train/good/mvtec_000008.bmp",
        f"{two}:4: mvtec/cable/train/good/mvtec_000009.bmp",
    ]
    images = datamodule.reference_images("test")
    assert {c: tuple(t.shape) for c, t in images.items()} == {"bottle": (2, 3, 32, 32), "cable": (2, 3, 32, 32)}
    replay = load_references(
        tmp_path / "run" / "references_mvtec_k2_manifest.json", source.samples(), "mvtec", mvtec_root, 2
    )
    assert replay.references == datamodule.reference_set("test").references
    assert replay.origins == datamodule.reference_set("test").origins


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        (
            ["mvtec/bottle/train/good/mvtec_000007.bmp"],  # cable's first id, listed under bottle
            r"fix_1-shot.txt:1: mvtec/bottle/train/good/mvtec_000007.bmp: id 7 is not a training image of 'bottle'.*0..3",
        ),
        (["mvtec/bottle/train/good/mvtec_000004.bmp"], r"id 4 is not a training image of 'bottle'"),  # a test image
        (
            ["mvtec/bottle/train/good/mvtec_000000.bmp", "mvtec/cookie/train/good/mvtec_000001.bmp"],
            r"fix_1-shot.txt:2: mvtec/cookie/.*class 'cookie' is neither one of the authors' mvtec classes",
        ),
        (
            ["mvtec/bottle/train/good/mvtec_000000.bmp", "mvtec/bottle/train/good/oops.bmp"],
            r"fix_1-shot.txt:2: mvtec/bottle/train/good/oops.bmp is not a DictAS list entry",
        ),
        (["mvtec/bottle/train/good/mvtec_good_000000.bmp"], r"a mvtec training image is named mvtec_<id>.bmp"),
        (["mvtec/cable/train/good/mvtec_000007.bmp"], r"has no line for category 'bottle'"),
        (
            ["mvtec/bottle/train/good/mvtec_000000.bmp", "mvtec/bottle/train/good/mvtec_000001.bmp"],
            r"gives 2 references .* for 'bottle'; --shots 1 needs 1",
        ),
    ],
)
def test_entries_that_do_not_map_are_errors_naming_file_line_and_entry(mvtec_root, tmp_path, lines, match) -> None:
    path = write_list(tmp_path, 1, lines)
    with pytest.raises(ReferenceSelectionError, match=match):
        load(path, MVTecAD(str(mvtec_root), categories=["bottle"]), shots=1)


def test_stem_and_class_errors(tmp_path: Path) -> None:
    root = tmp_path / "visa"
    raw.write_visa(root, ("candle",))
    source = VisA(str(root))
    test_image = write_list(tmp_path / "a", 1, ["visa/candle/train/good/visa_0003_000001.bmp"])  # 0003 is a test image
    with pytest.raises(
        ReferenceSelectionError,
        match=r"fix_1-shot.txt:1: visa/candle/.*: no normal training image of "
        r"visa/candle has the original stem '0003'",
    ):
        load(test_image, source, shots=1)
    no_stem = write_list(tmp_path / "b", 1, ["visa/candle/train/good/visa_000001.bmp"])
    with pytest.raises(ReferenceSelectionError, match="embeds the original stem"):
        load(no_stem, source, shots=1)


def test_missing_k_and_wrong_k_and_missing_earlier_class(mvtec_root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "fix_few_path" / "mvtec"
    write_list(folder, 1, ["mvtec/bottle/train/good/mvtec_000000.bmp"])
    two = write_list(
        folder, 2, ["mvtec/bottle/train/good/mvtec_000000.bmp", "mvtec/bottle/train/good/mvtec_000001.bmp"]
    )
    source = MVTecAD(str(mvtec_root), categories=["bottle"])
    with pytest.raises(
        ReferenceSelectionError, match=r"has no fix_4-shot.txt for --shots 4; it has lists for K = \[1, 2\]"
    ):
        load(folder, source, shots=4)
    with pytest.raises(
        ReferenceSelectionError, match=r"fix_2-shot.txt is the DictAS 2-shot list; --shots 1 needs fix_1-shot.txt"
    ):
        load(two, source, shots=1)
    only_cable = tmp_path / "only_cable"
    raw.write_mvtec(only_cable, ("cable",))
    path = write_list(tmp_path / "c", 1, ["mvtec/cable/train/good/mvtec_000001.bmp"])
    with pytest.raises(
        ReferenceSelectionError, match=r"count the images of every class before 'cable'.*bottle does not exist"
    ):
        load(path, MVTecAD(str(only_cable)), shots=1)


def test_a_list_of_a_dataset_in_the_authors_layout_is_read_as_paths(tmp_path: Path) -> None:
    """Entries that exist under the root are paths of a converted copy (MetaJson), not official ids to map."""
    from gad.data.sources import MetaJson

    raw.write_meta_json(tmp_path / "mvisa")
    path = write_list(tmp_path / "lists", 1, ["visa/candle/train/good/visa_0002_000002.bmp"])
    chosen = load(path, MetaJson(str(tmp_path / "mvisa"), meta="meta_visa.json"), shots=1)
    assert chosen.references == {"candle": ["visa/candle/train/good/visa_0002_000002.bmp"]} and not chosen.origins


# The datasets as released: (train, test) images per class (MVTec AD 3,629 / 1,725; MVTec 3D-AD 2,656 / 1,197); the
# ids of the authors' 1-shot lists (fix_few_path/<dataset>/fix_1-shot.txt); the training indices that the spec
# (Appendix A) maps them to.
RELEASED = {
    "mvtec": {
        "counts": {
            "bottle": (209, 83),
            "cable": (224, 150),
            "capsule": (219, 132),
            "carpet": (280, 117),
            "grid": (264, 78),
            "hazelnut": (391, 110),
            "leather": (245, 124),
            "metal_nut": (220, 115),
            "pill": (267, 167),
            "screw": (320, 160),
            "tile": (230, 117),
            "toothbrush": (60, 42),
            "transistor": (213, 100),
            "wood": (247, 79),
            "zipper": (240, 151),
        },
        "ids": {
            "bottle": 91,
            "cable": 296,
            "capsule": 841,
            "carpet": 1261,
            "grid": 1416,
            "hazelnut": 1766,
            "leather": 2266,
            "metal_nut": 2724,
            "pill": 3135,
            "screw": 3669,
            "tile": 4039,
            "toothbrush": 4276,
            "transistor": 4324,
            "wood": 4828,
            "zipper": 5088,
        },
        "index": {
            "bottle": 91,
            "cable": 4,
            "capsule": 175,
            "carpet": 244,
            "grid": 2,
            "hazelnut": 10,
            "leather": 9,
            "metal_nut": 98,
            "pill": 174,
            "screw": 274,
            "tile": 164,
            "toothbrush": 54,
            "transistor": 0,
            "wood": 191,
            "zipper": 125,
        },
        "totals": (3629, 1725),
    },
    "mvtec3D": {
        "counts": {
            "bagel": (244, 110),
            "cable_gland": (223, 108),
            "carrot": (286, 159),
            "cookie": (210, 131),
            "dowel": (288, 130),
            "foam": (236, 100),
            "peach": (361, 132),
            "potato": (300, 114),
            "rope": (298, 101),
            "tire": (210, 112),
        },
        "ids": {
            "bagel": 72,
            "tire": 3728,
            "dowel": 1518,
            "foam": 2103,
            "cable_gland": 446,
            "carrot": 687,
            "potato": 2777,
            "rope": 3157,
            "cookie": 1228,
            "peach": 2298,
        },
        "index": {
            "bagel": 72,
            "cable_gland": 92,
            "carrot": 2,
            "cookie": 98,
            "dowel": 47,
            "foam": 214,
            "peach": 73,
            "potato": 59,
            "rope": 25,
            "tire": 197,
        },
        "totals": (2656, 1197),
    },
}


@pytest.mark.parametrize("prefix", ["mvtec", "mvtec3D"])
def test_the_published_lists_map_to_the_indices_in_the_spec(tmp_path: Path, prefix: str) -> None:
    released, root = RELEASED[prefix], tmp_path / prefix
    rgb = "/rgb" if prefix == "mvtec3D" else ""
    assert tuple(map(sum, zip(*released["counts"].values()))) == released["totals"]
    for category, (train, test) in released["counts"].items():  # empty files: only names and counts matter here
        for folder, count in ((f"train/good{rgb}", train), (f"test/good{rgb}", test)):
            (root / category / folder).mkdir(parents=True)
            for i in range(count):
                (root / category / folder / f"{i:03d}.png").touch()
    lines = [f"{prefix}/{c}/train/good/{prefix}_{i:06d}.bmp" for c, i in released["ids"].items()]
    source = MVTecAD(str(root)) if prefix == "mvtec" else MVTec3D(str(root))
    chosen = load(write_list(tmp_path / "fix_few_path" / prefix, 1, lines), source, shots=1)
    assert chosen.references == {c: [f"{c}/train/good{rgb}/{i:03d}.png"] for c, i in sorted(released["index"].items())}

"""InCTRL's published prompt files (fs_samples/<dataset>/<K>/<category>.pt) as references of gad test and the
Detector: read as tensors only, brought back to [0, 1], never resized.

The prompt files are made here exactly as the parity fixtures say the official ones are made:
``Normalize(ToTensor(images240/ref_i))`` for i < K (../shared/parity/inctrl/settings.json, "prompt_files").
"""

from __future__ import annotations

import builtins
import json
import pickle
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from PIL import Image
from torchvision.transforms import functional as TF

from gad.cli.detector_args import _references
from gad.data.datamodule import FewShotDataModule
from gad.data.preprocessing import Preprocessing
from gad.data.dataset import to_tensors
from gad.data.images import read_rgb
from gad.data.prompt_files import ModelInput, load_prompts
from gad.data.reference_formats import load_references
from gad.data.references import ReferenceSelectionError, ReferenceSet
from gad.data.sources import QuickstartData
from gad.inference import Detector
from gad.models.components.clip_backbone import ClipConfig
from gad.models.patch_residual import PatchResidual
from tests.fixtures.parity import PARITY, parity_folder

INCTRL = PARITY / "inctrl"
CATEGORIES = ["coins", "gravel"]


def parity_settings() -> dict:
    return json.loads((parity_folder("inctrl") / "settings.json").read_text())


def official_pixels(shots: int) -> torch.Tensor:
    """ToTensor of the official model input of the first K references, (K, 3, 240, 240) in [0, 1]."""
    return torch.stack(
        [TF.to_tensor(Image.open(INCTRL / "images240" / f"ref{i}.png").convert("RGB")) for i in range(shots)]
    )


@pytest.fixture(scope="module")
def fs_samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``fs_samples/parity/{2,4}/{coins,gravel}.pt`` as the authors save them: a list of normalised tensors."""
    preprocessing = parity_settings()["preprocessing"]
    root = tmp_path_factory.mktemp("fs_samples") / "parity"
    for shots in (2, 4):
        (root / str(shots)).mkdir(parents=True)
        prompts = [TF.normalize(t, preprocessing["mean"], preprocessing["std"]) for t in official_pixels(shots)]
        for category in CATEGORIES:
            torch.save(prompts, root / str(shots) / f"{category}.pt")
    return root


def module_at(size: int) -> PatchResidual:
    return PatchResidual(ClipConfig("gad-tiny-vit", None, [1, 2], image_size=size))


def recording(module: PatchResidual) -> dict[str, torch.Tensor]:
    """What the pure model is given as references, per category."""
    seen: dict[str, torch.Tensor] = {}
    original = module.model.set_references

    def record(category: str, images: torch.Tensor) -> None:
        seen[category] = images.detach().cpu().clone()
        original(category, images)

    module.model.set_references = record
    return seen


def datamodule(
    root: Path, references: str | Path, shots: int = 4, categories: list[str] = CATEGORIES
) -> FewShotDataModule:
    source = QuickstartData(str(root), categories)
    data = FewShotDataModule(source, source, shots=shots, references=str(references), batch_size=4)
    data.preprocessing = Preprocessing(240, "shorter_side")
    return data


def test_prompt_files_come_back_as_the_official_pixels(fs_samples: Path, tmp_path: Path) -> None:
    expected = official_pixels(4)
    assert (load_prompts(fs_samples / "4" / "gravel.pt", ModelInput(240)) - expected).abs().max() <= 1e-6
    stacked = tmp_path / "stacked.pt"  # a (K, 3, S, S) tensor instead of a list
    torch.save(torch.stack(torch.load(fs_samples / "4" / "gravel.pt", weights_only=True)), stacked)
    assert (load_prompts(stacked, ModelInput(240)) - expected).abs().max() <= 1e-6


@pytest.mark.parametrize("form", ["k_folder", "dataset_folder", "file"])
def test_datamodule_serves_prompt_tensors(fs_samples: Path, quickstart_root: Path, tmp_path: Path, form: str) -> None:
    references = {"k_folder": fs_samples / "4", "dataset_folder": fs_samples, "file": fs_samples / "4" / "gravel.pt"}[
        form
    ]
    categories = ["gravel"] if form == "file" else CATEGORIES
    data = datamodule(quickstart_root, references, categories=categories)
    images = data.reference_images("test")
    assert sorted(images) == categories
    for tensors in images.values():
        assert (tensors - official_pixels(4)).abs().max() <= 1e-6
    saved = json.loads(data.save_references("test", tmp_path).read_text())
    assert saved["prompt_files"]["gravel"] == str((fs_samples / "4" / "gravel.pt").resolve())
    assert saved["origins"]["gravel"] == [f"{fs_samples / '4' / 'gravel.pt'}[{i}]" for i in range(4)]
    replay = datamodule(quickstart_root, tmp_path / "references_quickstart_k4_manifest.json", categories=categories)
    assert (replay.reference_images("test")["gravel"] - official_pixels(4)).abs().max() <= 1e-6


def test_gad_test_encodes_the_prompt_tensors(fs_samples: Path, quickstart_root: Path, tmp_path: Path) -> None:
    module = module_at(240)
    seen = recording(module)
    trainer = pl.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, default_root_dir=str(tmp_path), limit_test_batches=1
    )
    trainer.test(module, datamodule=datamodule(quickstart_root, fs_samples / "2", shots=2), verbose=False)
    assert sorted(seen) == CATEGORIES
    for tensors in seen.values():
        assert (tensors - official_pixels(2)).abs().max() <= 1e-6
    assert (tmp_path / "references_quickstart_k2_manifest.json").is_file()


def test_detector_takes_a_prompt_file_or_folder(fs_samples: Path, quickstart_root: Path) -> None:
    module = module_at(240)
    seen = recording(module)
    detector = Detector(module, device="cpu").set_references(fs_samples / "4", category="coins")
    assert (seen["coins"] - official_pixels(4)).abs().max() <= 1e-6
    assert detector.reference_names == [f"{fs_samples / '4' / 'coins.pt'}[{i}]" for i in range(4)]
    query = sorted((quickstart_root / "coins" / "test" / "good").glob("*.png"))[0]
    (prediction,) = detector.predict(query)
    module.model.set_references("coins", official_pixels(4))
    with torch.no_grad():
        expected = module.model(to_tensors(module.preprocessing, read_rgb(query))[0][None], "coins")
    assert prediction.score == pytest.approx(float(expected.score[0]), abs=1e-6)
    Detector(module, device="cpu").set_references(fs_samples / "2" / "gravel.pt", category="gravel")
    assert (seen["gravel"] - official_pixels(2)).abs().max() <= 1e-6
    assert _references([str(fs_samples / "2" / "gravel.pt")], None) == (fs_samples / "2" / "gravel.pt", "gravel")


def test_prompt_files_that_do_not_fit_are_one_line_errors(
    fs_samples: Path, quickstart_root: Path, tmp_path: Path
) -> None:
    with pytest.raises(ReferenceSelectionError, match=r"gravel.pt holds 240x240 px images but the model takes 112 px"):
        Detector(module_at(112), device="cpu").set_references(fs_samples / "4", category="gravel")
    with pytest.raises(ReferenceSelectionError, match=r"none for category 'bottle'"):
        Detector(module_at(112), device="cpu").set_references(fs_samples / "4", category="bottle")
    with pytest.raises(ReferenceSelectionError, match=r"4/coins.pt holds 4 prompt images; --shots 2 needs 2"):
        datamodule(quickstart_root, fs_samples / "4", shots=2).reference_set("test")
    with pytest.raises(ReferenceSelectionError, match=r"has no 3/ sub-folder .* K = \[2, 4\]"):
        datamodule(quickstart_root, fs_samples, shots=3).reference_set("test")
    with pytest.raises(ReferenceSelectionError, match=r"no chelsea.pt for category 'chelsea'"):
        datamodule(quickstart_root, fs_samples / "4", categories=["chelsea", "gravel"]).reference_set("test")
    torch.save({"prompts": torch.zeros(4, 3, 240, 240)}, tmp_path / "gravel.pt")
    with pytest.raises(ReferenceSelectionError, match=r"holds a dict; expected an InCTRL prompt file"):
        datamodule(quickstart_root, tmp_path / "gravel.pt", categories=["gravel"]).reference_set("test")
    with pytest.raises(
        ReferenceSelectionError,
        match=r"is a PyTorch file \(torch.save zip archive\), not text; expected a "
        r"gad references manifest \(.json\)",
    ):
        ReferenceSet.read(fs_samples / "4" / "gravel.pt")


class _Payload:
    """Unpickling this creates the marker file: what a malicious prompt file would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return builtins.open, (str(self.marker), "w")


@pytest.mark.parametrize("writer", ["torch_save", "raw_pickle"])
def test_a_pickled_object_is_refused_and_never_run(quickstart_root: Path, tmp_path: Path, writer: str) -> None:
    def write(path: Path, marker: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        if writer == "torch_save":
            torch.save([_Payload(marker)], path)
        else:
            path.write_bytes(pickle.dumps([_Payload(marker)]))
        return path

    control = write(tmp_path / "control" / "file.pt", tmp_path / "control" / "created")
    if writer == "torch_save":  # the payload is real: unpickling our own copy creates its marker
        torch.load(control, weights_only=False)
    else:
        pickle.loads(control.read_bytes())
    assert (tmp_path / "control" / "created").exists()
    marker = tmp_path / "marker"
    path = write(tmp_path / "prompts" / "gravel.pt", marker)
    assert not marker.exists()  # pickling does not run it
    samples = QuickstartData(str(quickstart_root), ["gravel"]).samples()
    for attempt in (
        lambda: load_references(path.parent, samples, "quickstart", quickstart_root, 1),
        lambda: load_references(path, samples, "quickstart", quickstart_root, 1),
        lambda: Detector(module_at(112), device="cpu").set_references(path, category="gravel"),
    ):
        with pytest.raises(
            ReferenceSelectionError,
            match=r"gravel.pt holds Python objects other than tensors and plain settings, which gad refuses to "
            r"load \(they could run code\), or is not a torch.save file; expected an InCTRL prompt file",
        ) as err:
            attempt()
        assert "\n" not in str(err.value)
    assert not marker.exists()


def test_a_run_manifest_with_prompt_files_reads_back(fs_samples: Path, tmp_path: Path) -> None:
    """The manifest a test writes for prompt-file references is usable again (gad predict --references)."""
    prompt = tmp_path / "gravel.pt"
    prompt.write_bytes((fs_samples / "4" / "gravel.pt").read_bytes())
    chosen = ReferenceSet(
        "parity",
        str(tmp_path),
        4,
        None,
        {"gravel": [f"{prompt}[{i}]" for i in range(4)]},
        prompt_files={"gravel": str(prompt)},
    )
    again = ReferenceSet.read(chosen.save(tmp_path / "manifest.json"))
    assert again.prompt_files == {"gravel": str(prompt)}
    prompt.unlink()
    with pytest.raises(ReferenceSelectionError, match="missing"):
        ReferenceSet.read(tmp_path / "manifest.json")

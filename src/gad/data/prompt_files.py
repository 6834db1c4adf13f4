"""InCTRL's published references (``fs_samples/<dataset>/<K>/<category>.pt``): per category, K images already
turned into the model's input (resized, centre-cropped, CLIP-normalised) and saved with ``torch.save``.

They are read as tensors only (``torch.load(weights_only=True)``: a file holding any other object is refused, never
unpickled), brought back to [0, 1] with the model's mean and std (gad's models normalise their input themselves),
and never resized: a size other than the model's input is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from torch import Tensor

from gad.data.references import ReferenceSelectionError, ReferenceSet, binary_kind
from gad.torch_files import load_plain

PROMPT_SUFFIXES = frozenset({".pt", ".pth"})
PROMPT_HELP = (
    "an InCTRL prompt file: a list of K CLIP-normalised 3xSxS tensors (or a Kx3xSxS tensor) saved by torch.save"
)


@dataclass(frozen=True)
class ModelInput:
    """What a model takes: the side of its square input and the mean/std it normalises [0, 1] images with."""

    image_size: int
    # OpenAI CLIP's normalisation, which InCTRL's prompt files were made with (open_clip's default for its models)
    mean: tuple[float, ...] = OPENAI_DATASET_MEAN
    std: tuple[float, ...] = OPENAI_DATASET_STD

    @classmethod
    def of(cls, backbone: Any) -> ModelInput:
        """The input of a CLIP backbone (its ``image_size`` and ``mean``/``std`` buffers)."""
        return cls(
            int(backbone.image_size),
            tuple(float(v) for v in backbone.mean.flatten()),
            tuple(float(v) for v in backbone.std.flatten()),
        )


def is_prompt_file(path: Path) -> bool:
    """A ``.pt``/``.pth`` file or one whose first bytes are a PyTorch or pickle file's."""
    return path.suffix.lower() in PROMPT_SUFFIXES or binary_kind(path) is not None


def prompt_folder(folder: Path, shots: int) -> Path | None:
    """The folder of ``<category>.pt`` files: ``folder`` itself (``fs_samples/<dataset>/<K>``) or its ``K``
    sub-folder (``fs_samples/<dataset>``); ``None`` when it holds neither."""
    if any(folder.glob("*.pt")):
        return folder
    if any((folder / str(shots)).glob("*.pt")):
        return folder / str(shots)
    available = sorted(int(d.name) for d in folder.iterdir() if d.name.isdigit() and any(d.glob("*.pt")))
    if available:
        raise ReferenceSelectionError(
            f"InCTRL folder {folder} has no {shots}/ sub-folder of prompt files for --shots {shots}; "
            f"it has K = {available}."
        )
    return None


def prompt_file_for(images: Any, category: str) -> Path | None:
    """The prompt file that ``images`` names for ``category``: a ``.pt`` file, or ``<category>.pt`` of a folder of
    prompt files; ``None`` when ``images`` names image files instead."""
    if not isinstance(images, (str, Path)):
        return None
    path = Path(images)
    if path.is_file():
        return path if is_prompt_file(path) else None
    if not path.is_dir():
        return None
    files = sorted(path.glob("*.pt"))
    if not files:
        return None
    if (path / f"{category}.pt").is_file():
        return path / f"{category}.pt"
    raise ReferenceSelectionError(
        f"{path} holds InCTRL prompt files for {', '.join(f.stem for f in files)} but none for category "
        f"{category!r}: pass one of these as the category."
    )


def prompt_file_set(where: Path, samples: pd.DataFrame, dataset: str, root: str | Path, shots: int) -> ReferenceSet:
    """The references of every category of ``samples``: its ``<category>.pt`` in the folder ``where`` (or the
    file ``where``), checked now and read as tensors when the model's input is known."""
    files = sorted(where.glob("*.pt")) if where.is_dir() else [where]
    by_category = {f.stem: f for f in files}
    references, origins, prompt_files = {}, {}, {}
    for category in sorted(samples["category"].unique()):
        file = by_category.get(category)
        if file is None:
            raise ReferenceSelectionError(
                f"InCTRL prompt files {where}: no {category}.pt for category {category!r} of {dataset} "
                f"(found {', '.join(sorted(by_category))})."
            )
        read_prompts(file, shots)
        references[category] = [f"{file.name}[{i}]" for i in range(shots)]
        origins[category] = [f"{file}[{i}]" for i in range(shots)]
        prompt_files[category] = str(file.resolve())
    return ReferenceSet(dataset, str(root), shots, None, references, str(where), origins, prompt_files)


def load_prompts(path: str | Path, model_input: ModelInput, shots: int | None = None) -> Tensor:
    """(K, 3, S, S) images in [0, 1] from a prompt file, for a model with ``model_input``."""
    path = Path(path)
    normalised = read_prompts(path, shots)
    size = normalised.shape[-1]
    if size != model_input.image_size:
        raise ReferenceSelectionError(
            f"{path} holds {size}x{size} px images but the model takes {model_input.image_size} px; prompt files "
            f"are the model's input already and are not resized: use ones made at {model_input.image_size} px."
        )
    mean = torch.tensor(model_input.mean, dtype=normalised.dtype).view(1, -1, 1, 1)
    std = torch.tensor(model_input.std, dtype=normalised.dtype).view(1, -1, 1, 1)
    return normalised * std + mean


def read_prompts(path: Path, shots: int | None = None) -> Tensor:
    """The (K, 3, S, S) tensors of a prompt file as stored (normalised), loaded as plain tensors only."""
    content = load_plain(path, ReferenceSelectionError, PROMPT_HELP)
    if isinstance(content, (list, tuple)) and content and all(isinstance(t, Tensor) for t in content):
        shapes = {tuple(t.shape) for t in content}
        content = torch.stack(list(content)) if len(shapes) == 1 else content
    if not (
        isinstance(content, Tensor)
        and content.ndim == 4
        and content.shape[1] == 3
        and content.shape[2] == content.shape[3]
        and content.is_floating_point()
    ):
        raise ReferenceSelectionError(f"{path} holds {_describe(content)}; expected {PROMPT_HELP}.")
    if shots is not None and len(content) != shots:
        raise ReferenceSelectionError(f"{path} holds {len(content)} prompt images; --shots {shots} needs {shots}.")
    return content.float()


def _describe(content: Any) -> str:
    if isinstance(content, Tensor):
        return f"a {content.dtype} tensor of shape {tuple(content.shape)}"
    if isinstance(content, (list, tuple)):
        kinds = sorted({tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__ for t in content}, key=str)
        return f"a {type(content).__name__} of {len(content)} items ({', '.join(map(str, kinds[:3]))})"
    return f"a {type(content).__name__}"

"""How normal references reach a model: a small interface, so that a datamodule, a plain dict of images or a
sweep over (K, seed) can all serve them, and ``trainer.test(model, dataloaders=...)`` needs no datamodule."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from gad.data.dataset import to_tensors
from gad.data.images import read_rgb
from gad.data.preprocessing import Preprocessing
from gad.data.prompt_files import ModelInput
from gad.data.references import ReferenceSelectionError, ReferenceSet, relative_path

EvalStage = Literal["validate", "test", "predict"]
Image = str | Path | np.ndarray


class LazyImages(Mapping[str, Tensor]):
    """Category -> (K, 3, S, S) reference tensor, read only when asked for: a set's categories are known at once,
    its pixels only when that dataset is evaluated (one dataset's references in memory at a time)."""

    def __init__(self, categories: Sequence[str], load: Callable[[str], Tensor]) -> None:
        self._categories = list(categories)
        self._load = load

    def __getitem__(self, category: str) -> Tensor:
        if category not in self._categories:
            raise KeyError(category)
        return self._load(category)

    def __iter__(self) -> Iterator[str]:
        return iter(self._categories)

    def __len__(self) -> int:
        return len(self._categories)


@dataclass(frozen=True)
class EvaluationReferences:
    """One (K, seed) set of references of one evaluated dataset.

    images: category -> (K, 3, S, S) model input (K may be 0). settings: per-dataset settings that travel with
    the references to the torch model (e.g. DictAS ``{"protocol": "mvtec"}``). manifest: what is written beside
    the results (``None``: nothing to write, e.g. in-memory images).
    """

    dataset: str
    shots: int
    seed: int | None
    images: Mapping[str, Tensor]
    settings: Mapping[str, Any] = field(default_factory=dict)
    manifest: ReferenceSet | None = None

    @property
    def categories(self) -> list[str]:
        return list(self.images)


@runtime_checkable
class ReferenceProvider(Protocol):
    """Serves the evaluated datasets' names (one per eval dataloader, in order) and their reference sets."""

    def evaluated_datasets(self, stage: EvalStage) -> list[str]: ...

    def reference_sets(
        self, stage: EvalStage, dataset_index: int, model_input: ModelInput
    ) -> list[EvaluationReferences]: ...


def stack_images(images: Sequence[np.ndarray], preprocessing: Preprocessing) -> Tensor:
    """(K, 3, S, S) model input of RGB arrays; K = 0 gives an empty (0, 3, S, S) tensor (zero-shot)."""
    if not images:
        return torch.empty(0, 3, preprocessing.image_size, preprocessing.image_size)
    return torch.stack([to_tensors(preprocessing, pixels)[0] for pixels in images])


class ImageReferences:
    """References given directly: category -> images (paths or RGB arrays), the same K for every category, for
    one dataset and every stage (``module.references = ImageReferences(...)``, then ``trainer.test(module,
    dataloaders=...)``).

    Args:
        images: category -> list of image paths or (H, W, 3) uint8 RGB arrays (an empty list: zero-shot).
        preprocessing: the model's (``module.preprocessing``).
        dataset: the name results are reported under.
        settings: per-dataset settings for the model (e.g. ``{"protocol": "mvtec"}`` for DictAS).
    """

    def __init__(
        self,
        images: Mapping[str, Sequence[Image]],
        preprocessing: Preprocessing,
        dataset: str = "images",
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        counts = {category: len(items) for category, items in images.items()}
        if not counts or len(set(counts.values())) != 1:
            raise ReferenceSelectionError(
                f"ImageReferences needs the same number of references for every category, got {counts}"
            )
        self.images = {category: list(items) for category, items in images.items()}
        self.preprocessing = preprocessing
        self.dataset = dataset
        self.settings = dict(settings or {})

    def evaluated_datasets(self, stage: EvalStage) -> list[str]:
        return [self.dataset]

    def reference_sets(
        self, stage: EvalStage, dataset_index: int, model_input: ModelInput
    ) -> list[EvaluationReferences]:
        if dataset_index != 0:
            raise ReferenceSelectionError(
                f"ImageReferences serves one dataset ({self.dataset!r}); dataloader {dataset_index} has none."
            )
        shots = len(next(iter(self.images.values())))
        images = LazyImages(list(self.images), self._load)
        return [EvaluationReferences(self.dataset, shots, None, images, self.settings, self._manifest(shots))]

    def _load(self, category: str) -> Tensor:
        items = self.images[category]
        return stack_images([read_rgb(i) if isinstance(i, (str, Path)) else i for i in items], self.preprocessing)

    def _manifest(self, shots: int) -> ReferenceSet | None:
        """Paths are written beside the results; in-memory images cannot be."""
        if any(not isinstance(i, (str, Path)) for items in self.images.values() for i in items):
            return None
        root = Path.cwd()
        paths = {c: [relative_path(i, root) for i in items] for c, items in self.images.items()}
        return ReferenceSet(self.dataset, str(root), shots, None, paths, source="images")

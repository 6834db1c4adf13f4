"""One pass over the evaluation data for several reference sets (a shots x seeds sweep): each query batch is
encoded once (backbone and the method's reference-independent work), then scored against every set."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from gad.models.components.few_shot import NO_SETTINGS, AnomalyPrediction, FewShotModel

ReferenceImages = Callable[[str], Tensor]
"""A set's (K, 3, H, W) model-input references of one category."""


class MultiSetScorer:
    """Scores the query batches of one evaluated dataset against ``len(sets)`` reference sets.

    A set's references are encoded per category when a batch first needs them. With one set every category's
    encoding is kept (as a single test always did); with several, those of categories absent from the current
    batch are dropped, so memory grows with the number of sets of one category at a time, not with the test set
    (evaluation data ordered by category, as gad's sources are, encodes each category once).

    Args:
        model: the method's torch model (``encode_queries`` / ``encode_references`` / ``score``).
        sets: per set, the model-input references of a category (``EvaluationReferences.images.__getitem__``).
        settings: per set, the per-dataset settings handed to ``encode_references`` (default none).
    """

    def __init__(
        self, model: FewShotModel, sets: Sequence[ReferenceImages], settings: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        self.model = model
        self.sets = list(sets)
        self.settings = list(settings) or [NO_SETTINGS for _ in self.sets]
        self.encoded: dict[str, list[Any]] = {}

    def references(self, category: str, device: torch.device) -> list[Any]:
        """Every set's encoded references of a category (encoded on first use)."""
        if category not in self.encoded:
            self.encoded[category] = [
                self.model.encode_references(images(category).to(device), category, settings)
                for images, settings in zip(self.sets, self.settings)
            ]
        return self.encoded[category]

    def __call__(self, images: Tensor, categories: Sequence[str]) -> list[AnomalyPrediction]:
        """One prediction per set for a batch that may mix categories, each category against its own references."""
        present = list(dict.fromkeys(categories))
        if len(self.sets) > 1:
            for category in [c for c in self.encoded if c not in present]:
                del self.encoded[category]
        merged = [BatchPrediction(len(categories), images.device) for _ in self.sets]
        for category in present:
            rows = torch.tensor([i for i, c in enumerate(categories) if c == category], device=images.device)
            queries = self.model.encode_queries(images[rows])
            for out, references in zip(merged, self.references(category, images.device)):
                out.put(rows, self.model.score(queries, references, category))
        return [out.prediction() for out in merged]


class BatchPrediction:
    """A batch's prediction assembled from per-category parts (float32, maps only if the method gives them)."""

    def __init__(self, size: int, device: torch.device) -> None:
        self.score = torch.empty(size, device=device)
        self.maps: Tensor | None = None
        self.parts: dict[str, Tensor] = {}

    def put(self, rows: Tensor, out: AnomalyPrediction) -> None:
        self.score[rows] = out.score.float()
        for name, part in out.parts.items():
            self.parts.setdefault(name, torch.full_like(self.score, torch.nan))[rows] = part.float()
        if out.anomaly_map is not None:
            if self.maps is None:
                self.maps = self.score.new_empty(len(self.score), *out.anomaly_map.shape[1:])
            self.maps[rows] = out.anomaly_map.float()

    def prediction(self) -> AnomalyPrediction:
        return AnomalyPrediction(score=self.score, anomaly_map=self.maps, parts=self.parts)

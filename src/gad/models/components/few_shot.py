"""The interface every few-shot method's pure torch model implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

if TYPE_CHECKING:
    from gad.models.components.clip_backbone import ClipBackbone


@dataclass
class AnomalyPrediction:
    """score: (B,) image anomaly scores, higher = more anomalous; anomaly_map: (B, 1, H, W) or ``None``;
    parts: named (B,) components of the score, for methods that re-combine them once a whole set is scored and
    for users who compare them with the authors' code; unsmoothed_map: the anomaly map before its Gaussian
    smoothing, for methods whose score reads the smoothed map (DictAS), else ``None``."""

    score: Tensor
    anomaly_map: Tensor | None
    parts: dict[str, Tensor] = field(default_factory=dict)
    unsmoothed_map: Tensor | None = None


class FewShotModel(nn.Module, ABC):
    """Tensors in, tensors out: references are encoded once per category, then every query reuses them."""

    backbone: ClipBackbone

    def __init__(self) -> None:
        super().__init__()
        self._references: dict[str, Any] = {}

    @abstractmethod
    def encode_references(self, images: Tensor, category: str) -> Any:
        """What the method keeps of the (K, 3, H, W) normal references of one category."""

    @abstractmethod
    def predict(self, images: Tensor, references: Any, category: str) -> AnomalyPrediction:
        """Score query images of one category against its encoded references."""

    def set_references(self, category: str, images: Tensor) -> None:
        self._references[category] = self.encode_references(images, category)

    def clear_references(self) -> None:
        self._references.clear()

    @property
    def categories(self) -> list[str]:
        return sorted(self._references)

    def forward(self, images: Tensor, category: str) -> AnomalyPrediction:
        if category not in self._references:
            raise KeyError(
                f"No references set for category {category!r} (have {self.categories}); "
                f"call set_references({category!r}, images) first."
            )
        return self.predict(images, self._references[category], category)

"""The interface every few-shot method's pure torch model implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

if TYPE_CHECKING:
    from gad.models.components.clip_backbone import ClipBackbone

# No per-dataset settings; read-only, so a shared default argument cannot be changed by a callee.
NO_SETTINGS: Mapping[str, Any] = MappingProxyType({})


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
    """Tensors in, tensors out: references are encoded once per category, then every query reuses them.

    A method implements ``encode_references`` and either ``predict`` or the pair ``encode_queries`` (the work that
    does not depend on the references, done once per batch) and ``score`` (per reference set); by default
    ``predict(images, refs, c) == score(encode_queries(images), refs, c)``, with ``encode_queries`` the identity
    and ``score`` calling ``predict``. Per-dataset settings (e.g. DictAS ``{"protocol": "mvtec"}``) are an
    argument of ``encode_references``; what scoring needs of them is kept in the encoded references.
    """

    backbone: ClipBackbone

    def __init__(self) -> None:
        super().__init__()
        cls = type(self)
        if cls.predict is FewShotModel.predict and cls.score is FewShotModel.score:
            raise TypeError(f"{cls.__name__} must implement predict or score (each defaults to the other).")
        self._references: dict[str, Any] = {}

    @abstractmethod
    def encode_references(self, images: Tensor, category: str, settings: Mapping[str, Any] = NO_SETTINGS) -> Any:
        """What the method keeps of the (K, 3, H, W) normal references of one category (K may be 0 for methods
        that score zero-shot)."""

    def encode_queries(self, images: Tensor) -> Any:
        """The reference-independent part of scoring (B, 3, H, W) queries; default the images themselves."""
        return images

    def score(self, queries: Any, references: Any, category: str) -> AnomalyPrediction:
        """Score encoded queries of one category against one encoded reference set."""
        return self.predict(queries, references, category)

    def predict(self, images: Tensor, references: Any, category: str) -> AnomalyPrediction:
        """Score query images of one category against its encoded references."""
        return self.score(self.encode_queries(images), references, category)

    def set_references(self, category: str, images: Tensor, settings: Mapping[str, Any] = NO_SETTINGS) -> None:
        self._references[category] = self.encode_references(images, category, settings)

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

"""DictAS as a pure torch model: dictionaries from K normal references, anomaly maps by lookup, training losses."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import kornia
import torch
from torch import Tensor, nn

from gad.errors import ConfigError
from gad.models.components.anomaly_map import gaussian_smooth, upsample
from gad.models.components.clip_backbone import BackboneFeatures, ClipBackbone
from gad.models.components.few_shot import NO_SETTINGS, AnomalyPrediction, FewShotModel
from gad.models.components.text_prompts import TextPrompts
from gad.models.dictas.generators import DictionaryGenerators, init_weights
from gad.models.dictas.global_head import GlobalHead
from gad.models.dictas.lookup import LookupStrategy, cosine_distance, lookup
from gad.models.dictas.losses import DictASLosses, patch_anomaly_mask, query_losses, text_alignment_loss
from gad.models.dictas.pooling import pool_tokens
from gad.models.dictas.protocol import Protocol, official_settings
from gad.models.dictas.settings import InferenceSettings


@dataclass
class DictASQueries:
    """A query batch's reference-independent features: the backbone's (``image_size`` px input) and, per
    (layer positions, scales) read so far, the pooled g_V tokens and g_Q's hidden map (``lookup_inputs``)."""

    features: BackboneFeatures
    image_size: int
    lookup_inputs: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[Tensor, Tensor]] = field(default_factory=dict)


@dataclass
class Dictionary:
    """One category's dictionary: keys and values per (tapped-layer position, pooling kernel), each (1, M, C) with
    M = all references' tokens, the settings it is read with, and the (2, D) normal/abnormal text embeddings.

    The keys are stored already multiplied by g_Q's last linear map (``query.fc3``, bias-free), so that queries
    skip it: g_Q(x) . k = g_Q.hidden(x) . (k @ W), one C x C product per category instead of per query image."""

    settings: InferenceSettings
    entries: dict[tuple[int, int], tuple[Tensor, Tensor]]
    text: Tensor


class DictASModel(FewShotModel):
    """DictAS (ICCV 2025): a query patch that cannot be looked up in a dictionary of normal patches is anomalous.

    Per tapped layer and pooling scale, the references' tokens become keys (g_K) and values (g_V); the query
    tokens, passed through g_V as at the end of training, become queries (g_Q); the anomaly map is the mean over
    layers and scales of (1 - cos(query tokens, retrieved values)) / 2, upsampled and smoothed. The image score is
    the map maximum, fused with the CLIP text score with weight alpha.

    Args:
        backbone: the frozen CLIP; every tapped layer is used in training.
        lookup: ``sparse`` (sparsemax, the paper), ``dense`` (softmax) or ``maximum`` (one-hot).
        scales: pooling kernels used in training (and at inference unless ``inference.scales`` says otherwise).
            Must contain 1: the text alignment constraint reads the unpooled retrieval.
        num_heads: attention heads of the generators.
        dropout: dropout inside the generators.
        inference: how dictionaries are read when no ``protocol`` is set.
        protocol: apply the official test rules of this dataset instead of ``inference`` (see ``protocol.py``)
            when ``encode_references`` is given no ``protocol`` setting (the LightningModule gives one per
            evaluated dataset; the Detector keeps this one).
        sparsemax_topk: at inference, find each query's sparsemax support among its ``sparsemax_topk`` best keys
            and recompute exactly the rare rows whose support is wider (same result, no sort of all K x N
            scores); ``None``: the exact sort-based lookup. Training always sorts (no host synchronisation).
    """

    def __init__(
        self,
        backbone: ClipBackbone,
        lookup: LookupStrategy = "sparse",
        scales: Sequence[int] = (1, 3),
        num_heads: int = 4,
        dropout: float = 0.1,
        inference: InferenceSettings | None = None,
        protocol: Protocol | None = None,
        sparsemax_topk: int | None = 64,
    ) -> None:
        super().__init__()
        if 1 not in scales or any(k < 1 for k in scales):
            raise ConfigError(f"scales={list(scales)}: pooling kernels must be >= 1 and include 1.")
        if sparsemax_topk is not None and sparsemax_topk < 1:
            raise ConfigError(f"sparsemax_topk must be >= 1 or null, got {sparsemax_topk}")
        self.backbone = backbone
        self.lookup = lookup
        self.scales = tuple(scales)
        self.inference = inference or InferenceSettings()
        self.protocol = protocol
        self.sparsemax_topk = sparsemax_topk
        self.generators = DictionaryGenerators(backbone.width, num_heads, dropout)
        self.head = GlobalHead(backbone.width, len(backbone.layers), backbone.embed_dim)
        init_weights(self.generators)
        init_weights(self.head)
        self.prompts = TextPrompts("dictas")
        self.settings_for(None, 1)  # fail on invalid layers now, not at the first test batch

    # ----- inference -----------------------------------------------------------------------------------------
    def settings_for(
        self, category: str | None, shots: int, settings: Mapping[str, Any] = NO_SETTINGS
    ) -> InferenceSettings:
        """The concrete settings a category's dictionary is read with: the rules of ``settings["protocol"]`` (default
        the model's ``protocol``), else ``inference``."""
        protocol = settings.get("protocol", self.protocol)
        chosen = official_settings(protocol, category or "", shots) if protocol else self.inference
        layers = tuple(chosen.layers or self.backbone.layers)
        missing = sorted(set(layers) - set(self.backbone.layers))
        if missing:
            raise ConfigError(
                f"Inference layers {list(layers)} include {missing}, which the backbone does not tap "
                f"(tapped: {list(self.backbone.layers)})."
            )
        return replace(chosen, layers=layers, scales=tuple(chosen.scales or self.scales))

    def inference_settings(self, category: str) -> InferenceSettings:
        """The settings of a category whose references are set."""
        return self._references[category].settings

    def encode_references(self, images: Tensor, category: str, settings: Mapping[str, Any] = NO_SETTINGS) -> Dictionary:
        """Keys and values of every used layer and scale, from all K references as one sequence (once per category),
        read with ``settings_for(category, K, settings)``."""
        chosen = self.settings_for(category, images.shape[0], settings)
        if chosen.rotations:
            images = torch.cat([images] + [_rotate(images, angle) for angle in chosen.rotations])
        tokens = self.backbone(images).patch_tokens
        entries = {}
        for kernel, position in self._pairs(chosen):
            references = pool_tokens(tokens[position], self.backbone.grid, kernel).flatten(0, 1).unsqueeze(0)
            keys, values = self.generators.dictionary(references)
            entries[(position, kernel)] = (self.generators.query.fold_output(keys), values)
        return Dictionary(settings=chosen, entries=entries, text=self.prompts.embeddings(self.backbone, category))

    def encode_queries(self, images: Tensor) -> DictASQueries:
        """The backbone pass of a query batch; g_V, pooling and g_Q's hidden map follow once per layers and scales
        read (``lookup_inputs``), whatever the number of dictionaries the batch is scored against."""
        return DictASQueries(self.backbone(images, embedding=True), images.shape[-1])

    def lookup_inputs(self, queries: DictASQueries, settings: InferenceSettings) -> tuple[Tensor, Tensor]:
        """(pooled g_V tokens, g_Q hidden map), each (scales x layers x B, N, C), computed on first use and kept
        in ``queries`` for every later dictionary read with the same layers and scales."""
        positions = self._positions(settings)
        key = (tuple(positions), tuple(settings.scales or ()))
        if key not in queries.lookup_inputs:
            grid = self.backbone.grid
            # One generator call for all layers (g_V) and for all layers and scales (g_Q): bigger, fewer products.
            query = self.generators.value(torch.cat([queries.features.patch_tokens[p] for p in positions]))
            pooled = torch.cat([pool_tokens(query, grid, kernel) for kernel in key[1]])
            queries.lookup_inputs[key] = (pooled, self.generators.query.hidden(pooled))  # g_Q's output map: keys
        return queries.lookup_inputs[key]

    def score(self, queries: DictASQueries, references: Dictionary, category: str) -> AnomalyPrediction:
        """Anomaly map (B, 1, H, W) (and before smoothing), image score, and its parts ``map`` (map maximum) and
        ``text`` (CLIP), of encoded queries against one dictionary."""
        settings, grid = references.settings, self.backbone.grid
        batch = queries.features.patch_tokens[0].shape[0]
        pooled, matched = self.lookup_inputs(queries, settings)
        distances = []
        for index, (kernel, position) in enumerate(self._pairs(settings)):
            rows = slice(index * batch, (index + 1) * batch)
            keys, values = references.entries[(position, kernel)]
            retrieved = lookup(matched[rows], keys, values, self.lookup, self.sparsemax_topk)
            distances.append(cosine_distance(pooled[rows], retrieved) / 2)
        patch_scores = torch.stack(distances).mean(dim=0).unflatten(1, grid)
        unsmoothed = upsample(patch_scores, queries.image_size, align_corners=True)
        anomaly_map = gaussian_smooth(unsmoothed, settings.sigma)
        map_score = anomaly_map.flatten(1).amax(dim=1)
        embedding = queries.features.embedding
        assert embedding is not None
        text_score = (100 * embedding.float() @ references.text.float().T).softmax(dim=-1)[:, 1]
        fused = settings.alpha * text_score + (1 - settings.alpha) * map_score
        parts = {"map": map_score, "text": text_score}
        return AnomalyPrediction(score=fused, anomaly_map=anomaly_map, parts=parts, unsmoothed_map=unsmoothed)

    def _pairs(self, settings: InferenceSettings) -> list[tuple[int, int]]:
        """(pooling kernel, layer position) of every map term, in the order of the rows of ``lookup_inputs``."""
        assert settings.scales is not None
        return list(itertools.product(settings.scales, self._positions(settings)))

    def _positions(self, settings: InferenceSettings) -> list[int]:
        assert settings.layers is not None
        return [self.backbone.layers.index(layer) for layer in settings.layers]

    # ----- training ------------------------------------------------------------------------------------------
    def losses(
        self,
        images: Tensor,
        support: Tensor,
        mask: Tensor | None,
        label: Tensor,
        categories: list[str],
        query_through_value: bool = False,
        lambda_cqc: float = 0.1,
        lambda_tac: float = 0.1,
    ) -> DictASLosses:
        """Self-supervised losses of a batch: each query (B, 3, H, W) against its own support (B, K, 3, H, W).

        ``query_through_value``: pass the query tokens through g_V first (phase 2 of the official schedule, once
        g_V is frozen, which makes training match inference). The query and CQC terms are summed over layers and
        scales, as the official code does.
        """
        grid = self.backbone.grid
        batch, shots = support.shape[:2]
        queries = self.backbone(images).patch_tokens
        supports = self.backbone(support.flatten(0, 1)).patch_tokens
        if query_through_value:
            queries = [self.generators.value(q) for q in queries]
        anomalous = patch_anomaly_mask(mask, grid) if mask is not None else images.new_zeros(batch, grid[0] * grid[1])
        loss_query = loss_cqc = images.new_zeros(())
        retrieved_unpooled = []
        for query, reference in zip(queries, supports):
            for kernel in self.scales:
                pooled = pool_tokens(query, grid, kernel)
                references = pool_tokens(reference, grid, kernel).unflatten(0, (batch, shots)).flatten(1, 2)
                keys, values = self.generators.dictionary(references)
                retrieved = lookup(self.generators.query(pooled), keys, values, self.lookup)
                lq, cqc = query_losses(cosine_distance(pooled, retrieved), anomalous)
                loss_query, loss_cqc = loss_query + lq, loss_cqc + cqc
                if kernel == 1:
                    retrieved_unpooled.append(retrieved)
        text = torch.stack([self.prompts.embeddings(self.backbone, c) for c in categories])

        def embed(tokens: list[Tensor]) -> Tensor:
            return self.head([nn.functional.normalize(t, dim=-1) for t in tokens])

        loss_tac = text_alignment_loss(embed(queries), embed(retrieved_unpooled), text, label)
        total = loss_query + lambda_cqc * loss_cqc + lambda_tac * loss_tac
        return DictASLosses(loss=total, query=loss_query, cqc=loss_cqc, tac=loss_tac)

    def value_parameters(self) -> list[nn.Parameter]:
        """g_V's parameters, frozen in phase 2 of the official schedule."""
        return list(self.generators.value.parameters())

    def trainable_parameters(self, include_value: bool = True) -> list[nn.Parameter]:
        """Generators and head (the backbone is frozen); without g_V once it is frozen."""
        frozen = set() if include_value else {id(p) for p in self.value_parameters()}
        return [p for p in [*self.generators.parameters(), *self.head.parameters()] if id(p) not in frozen]


def _rotate(images: Tensor, degrees: float) -> Tensor:
    """Rotate about the centre, reflecting at the border (as albumentations' Rotate in the official screw trick)."""
    angle = torch.full((images.shape[0],), degrees, device=images.device, dtype=images.dtype)
    return kornia.geometry.transform.rotate(images, angle, padding_mode="reflection")

"""Frozen open_clip CLIP shared by every method: tapped patch tokens, the image embedding and text embeddings."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import open_clip
import torch
from torch import Tensor, nn

from gad.errors import ConfigError, GadError
from gad.models.components.pretrained import resolve_pretrained

# An open_clip CLIP model: open_clip ships no type information, so its attributes are unchecked.
ClipModel = Any
MODEL_CONFIG_DIR = Path(__file__).parent / "model_configs"
open_clip.add_model_config(MODEL_CONFIG_DIR)


class UnknownModelError(GadError, ValueError):
    """Raised for a model name that open_clip does not know."""


@dataclass
class BackboneFeatures:
    """What a method needs from one image batch.

    patch_tokens: one (B, N, width) tensor per tapped layer, the raw residual stream (before ``ln_post``,
        not projected), CLS dropped, as DictAS and InCTRL use them.
    embedding: (B, D) projected image embedding, L2-normalised unless asked otherwise; ``None`` when not requested.
    """

    patch_tokens: list[Tensor]
    embedding: Tensor | None
    grid: tuple[int, int]


@dataclass
class ClipConfig:
    """Which CLIP to build; a plain dataclass so configs and checkpoints hold settings, never weights.

    model_name: any open_clip model name, e.g. ``ViT-L-14-336`` or the shipped ``gad-tiny-vit``.
    pretrained: an open_clip tag (``openai``, ``laion400m_e32``, ...), a local checkpoint file, or
        ``None`` for random initialisation (tests and the quickstart).
    layers: tapped transformer blocks, 1-based as in the papers (DictAS 6/12/18/24, InCTRL 7/9/11).
    image_size: input size; differs from the model's native size by resizing the position embedding.
    quick_gelu: activation of the MLPs. ``None`` follows the weights (QuickGELU for OpenAI weights);
        ``False`` runs OpenAI weights with exact GELU, as the DictAS authors did.
    cache_dir: where downloaded weights live (default: the Hugging Face cache).
    model_config: an open_clip model config (``embed_dim``, ``vision_cfg``, ``text_cfg``) for an architecture
        open_clip does not know, registered under ``model_name``; kept inline so that a checkpoint carries it.
    """

    model_name: str = "ViT-L-14-336"
    pretrained: str | None = "openai"
    layers: list[int] = field(default_factory=lambda: [6, 12, 18, 24])
    image_size: int | None = None
    quick_gelu: bool | None = None
    cache_dir: str | None = None
    model_config: dict[str, Any] | None = None

    @classmethod
    def of(cls, value: ClipConfig | dict[str, Any] | None, default: Callable[[], ClipConfig]) -> ClipConfig:
        """A config from what a LightningModule is given: itself, its dict (read back from a checkpoint) or None."""
        if value is None:
            return default()
        return cls(**value) if isinstance(value, dict) else value

    def as_dict(self) -> dict[str, Any]:
        """Plain types only, as hyperparameters are stored: checkpoints must load with ``weights_only=True``."""
        return asdict(self)


class ClipBackbone(nn.Module):
    """A frozen open_clip model that always stays in eval mode and never builds a graph."""

    model: ClipModel
    mean: Tensor
    std: Tensor

    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        model_name, pretrained, layers = config.model_name, config.pretrained, config.layers
        image_size, quick_gelu, cache_dir = config.image_size, config.quick_gelu, config.cache_dir
        if config.model_config is not None:
            register_model_config(model_name, config.model_config)
        _check_model_name(model_name)
        weights = resolve_pretrained(model_name, pretrained, cache_dir)
        if quick_gelu is None:
            quick_gelu = weights.quick_gelu
        if not quick_gelu and model_name.endswith("-quickgelu"):
            raise ConfigError(
                f"model_name={model_name!r} has QuickGELU built in but quick_gelu=False was asked: "
                f"use {model_name.removesuffix('-quickgelu')!r} for exact GELU."
            )
        self.model_name = model_name
        self.pretrained = weights.describe()
        self.is_pretrained = weights.source is not None

        def build(source: str | None, size: int | None) -> ClipModel:
            with _without_random_init_warning():
                return open_clip.create_model(
                    model_name,
                    pretrained=source,
                    force_quick_gelu=quick_gelu,
                    force_image_size=size,
                    cache_dir=cache_dir,
                    pretrained_text=False,
                    require_pretrained=source is not None,
                )

        if weights.source is None:
            self.model = build(None, image_size)
        else:  # loaded at the weights' own size, then resized in float32 (see with_image_size)
            self.model = with_image_size(weights.load(lambda source: build(source, None)), image_size, build)
        if not hasattr(self.model.visual, "forward_intermediates") or not hasattr(self.model.visual, "transformer"):
            raise ConfigError(f"{model_name!r} has no ViT image tower; gad needs a ViT to tap patch tokens.")
        self.layers = _check_layers(layers, len(self.model.visual.transformer.resblocks), model_name)
        self.quick_gelu = quick_gelu
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.register_buffer("mean", torch.tensor(self.model.visual.image_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.model.visual.image_std).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.model.eval()

    @property
    def image_size(self) -> int:
        return _side(self.model.visual.image_size)

    @property
    def grid(self) -> tuple[int, int]:
        rows, cols = self.model.visual.grid_size
        return int(rows), int(cols)

    @property
    def width(self) -> int:
        """Channels of the tapped patch tokens."""
        return int(self.model.visual.transformer.width)

    @property
    def embed_dim(self) -> int:
        """Channels of the joint image/text embedding."""
        return int(self.model.text_projection.shape[1])

    def train(self, mode: bool = True) -> ClipBackbone:
        """Stay in eval mode: the backbone is frozen, dropout and batch statistics must not change."""
        super().train(False)
        return self

    @torch.no_grad()
    def forward(self, images: Tensor, embedding: bool = False, normalize_embedding: bool = True) -> BackboneFeatures:
        """Encode images with values in [0, 1]; the backbone's own mean/std normalisation is applied here.

        ``normalize_embedding=False`` keeps the embedding's length (InCTRL's adapter takes the raw projection).
        """
        x = (images - self.mean.to(images.dtype)) / self.std.to(images.dtype)
        out = self.model.visual.forward_intermediates(
            x,
            indices=[layer - 1 for layer in self.layers],
            stop_early=not embedding,
            normalize_intermediates=False,
            intermediates_only=not embedding,
            output_fmt="NLC",
            output_extra_tokens=False,
        )
        pooled = out.get("image_features") if embedding else None
        if pooled is not None and normalize_embedding:
            pooled = nn.functional.normalize(pooled, dim=-1)
        return BackboneFeatures(patch_tokens=list(out["image_intermediates"]), embedding=pooled, grid=self.grid)

    @torch.no_grad()
    def encode_text(self, texts: list[str]) -> Tensor:
        """L2-normalised text embeddings (N, D)."""
        tokens = self.tokenizer(texts).to(self.mean.device)
        return nn.functional.normalize(self.model.encode_text(tokens), dim=-1)


class _RandomInitWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No pretrained weights loaded")


@contextmanager
def _without_random_init_warning() -> Iterator[None]:
    """open_clip warns "No pretrained weights loaded ... initialized randomly" for every model built without a
    source; gad builds so on purpose, then loads a weights file or a trained checkpoint into it, so the line would
    mislead (a random init asked for by ``pretrained: null`` is what ``ClipBackbone.pretrained`` says)."""
    quiet = _RandomInitWarning()
    logging.getLogger().addFilter(quiet)
    try:
        yield
    finally:
        logging.getLogger().removeFilter(quiet)


def with_image_size(
    model: ClipModel, image_size: int | None, build: Callable[[str | None, int | None], ClipModel]
) -> ClipModel:
    """``model`` with its position embedding resized (bicubic, antialiased) for ``image_size``, in float32.

    open_clip resizes while loading, in the file's dtype, and CPU bicubic interpolation has no float16 kernel
    (OpenAI's files are float16); the official DictAS code casts to float32 first, and so does this.
    """
    if image_size is None or image_size == _side(model.visual.image_size):
        return model
    resized = build(None, image_size)
    state = {k: v.float() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    open_clip.model.resize_pos_embed(state, resized)
    resized.load_state_dict(state)
    return resized


def register_model_config(model_name: str, config: dict[str, Any]) -> None:
    """Make an inline open_clip model config known under ``model_name`` (open_clip's own registry, which its
    ``create_model`` and ``get_tokenizer`` read); a different architecture may not take a known name."""
    if not isinstance(config, dict) or not {"embed_dim", "vision_cfg", "text_cfg"} <= set(config):
        raise ConfigError(
            f"model_config of {model_name!r} is not an open_clip model config (needs embed_dim, vision_cfg, text_cfg)."
        )
    known = open_clip.get_model_config(model_name)
    if known is not None and known != config:
        raise ConfigError(
            f"model_config differs from open_clip's {model_name!r}: give the custom architecture another model_name."
        )
    open_clip.factory._MODEL_CONFIGS[model_name] = deepcopy(config)


def _side(size: int | Sequence[int]) -> int:
    return int(size[0] if isinstance(size, Sequence) else size)


def _check_model_name(model_name: str) -> None:
    known = open_clip.list_models()
    if model_name in known:
        return
    close = difflib.get_close_matches(model_name, known, n=5, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UnknownModelError(
        f"Unknown CLIP model {model_name!r}.{hint} Any name of open_clip.list_models() works, plus the tiny test "
        f"configs shipped in {MODEL_CONFIG_DIR} ({', '.join(sorted(p.stem for p in MODEL_CONFIG_DIR.glob('*.json')))})."
    )


def _check_layers(layers: Sequence[int], depth: int, model_name: str) -> tuple[int, ...]:
    layers = tuple(int(layer) for layer in layers)
    if not layers or any(not 1 <= layer <= depth for layer in layers) or len(set(layers)) != len(layers):
        raise ConfigError(
            f"layers={list(layers)} is not valid for {model_name!r}: give distinct 1-based block numbers "
            f"between 1 and {depth} (e.g. DictAS uses 6,12,18,24 of ViT-L-14-336)."
        )
    return layers

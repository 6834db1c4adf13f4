"""The InCTRL authors' released checkpoints (``checkpoints/<K>/checkpoint.pyth``: the whole model's state dict,
CLIP included) as a gad InCTRL whose checkpoint keeps the CLIP weights inside.

34 head tensors map: the adapter, and each head's three linear layers and the two BatchNorms it uses (``bn2``,
``bn3``); ``bn1`` of both heads is never used by the official forward and is dropped. The official image residual
is prototype minus query, gad's query minus prototype, so the image head's first weight is negated. The rest is
an open_clip state dict, to which gad's CLIP adds its own unused ``logit_scale`` when the file has none.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from gad.models.checkpoint_file import write_checkpoint
from gad.models.components.clip_backbone import ClipConfig
from gad.models.inctrl.lightning_model import InCTRL, paper_backbone
from gad.models.official_import import (
    fit_tensors,
    read_model_config,
    read_official,
)

HEADS = {"adapter.fc.": "adapter.layers.", "diff_head_ref.": "image_head.", "diff_head.": "holistic_head."}
HEAD_LAYERS = {
    "projection1.": "linears.0.",
    "projection2.": "linears.1.",
    "projection3.": "out.",
    "bn2.": "norms.0.",
    "bn3.": "norms.1.",
}
UNUSED = "bn1."
NEGATED = "image_head.linears.0.weight"
CLIP_PREFIX = "backbone.model."
CLIP_EXTRAS = ("logit_scale", "logit_bias")


def gad_name(official: str) -> str | None:
    """gad's ``InCTRLModel`` name of an official parameter; ``None`` for an unused one (``bn1``)."""
    for prefix, ours in HEADS.items():
        if official.startswith(prefix):
            rest = official[len(prefix) :]
            if ours.startswith("adapter."):
                return ours + rest
            if rest.startswith(UNUSED):
                return None
            for name, mine in HEAD_LAYERS.items():
                if rest.startswith(name):
                    return ours + mine + rest[len(name) :]
            return ours + rest  # not an official layer: refused by fit_tensors
    return CLIP_PREFIX + official


def convert(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The official state dict under gad's names, ``bn1`` dropped and the image head's first weight negated."""
    renamed = {gad_name(k): v for k, v in state.items()}
    tensors = {k: v if not v.is_floating_point() else v.float() for k, v in renamed.items() if k is not None}
    tensors[NEGATED] = -tensors[NEGATED]
    return tensors


def import_inctrl(checkpoint: str | Path, output: str | Path, clip_config: str | Path | None = None) -> Path:
    """Write ``output``, a self-contained gad InCTRL checkpoint (heads and CLIP weights) of a released one."""
    tensors = convert(read_official(checkpoint, "inctrl"))
    custom = read_model_config(clip_config)
    paper = paper_backbone()
    model_name, model_config = custom if custom else (paper.model_name, None)
    backbone = ClipConfig(
        model_name=model_name,
        pretrained=None,
        layers=list(paper.layers),
        image_size=None,
        quick_gelu=False,
        model_config=model_config,
    )
    module = InCTRL(backbone=backbone)  # its default preprocessing is the official rule
    fit_tensors(module.model, tensors, checkpoint, repr(model_name), _gad_only)
    return write_checkpoint(
        module,
        output,
        imported={"method": "inctrl", "weights": str(Path(checkpoint).resolve()), "clip": "inside this checkpoint"},
    )


def _gad_only(name: str) -> bool:
    """gad's CLIP parameters that an official file need not hold (InCTRL's text score has a fixed scale)."""
    return name.removeprefix(CLIP_PREFIX) in CLIP_EXTRAS

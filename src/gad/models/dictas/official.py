"""The DictAS authors' released weights (``{'Mymodel': MyDictionary.state_dict()}``, e.g. ``train_visa.pth``) as
a gad DictAS: 42 tensors renamed one to one; the frozen CLIP is the file they were trained on, by path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from gad.models.checkpoint_file import CheckpointError, write_checkpoint
from gad.models.components.clip_backbone import ClipConfig
from gad.models.components.pretrained import WeightsNotFoundError
from gad.models.dictas.lightning_model import DictAS
from gad.models.dictas.protocol import Protocol, official_settings
from gad.models.official_import import (
    fit_tensors,
    read_model_config,
    read_official,
)

PAPER_CLIP = "ViT-L-14-336"
PAPER_LAYERS = [6, 12, 18, 24]
# Official module path prefix -> gad's, then the official block's parameter names -> gad's AttentionBlock.
MODULES = {
    "Query_Generator.": "generators.query.",
    "Key_Generator.": "generators.key.",
    "Value_Generator.AttnBlock.": "generators.value.block.",
    "Fuse_Feature.fuse_modules.": "head.project.",
    "Fuse_Feature.compress.": "head.attention.",
    "Fuse_Feature.post_process.": "head.output.",
}
BLOCK = {
    "q_proj.": "q.",
    "k_proj.": "k.",
    "v_proj.": "v.",
    "norm1.": "norm1.",
    "TwoLayerMLP.linear1.": "fc1.",
    "TwoLayerMLP.linear2.": "fc2.",
    "TwoLayerMLP.norm.": "norm2.",
    "TwoLayerMLP.linear3.": "fc3.",
}


def gad_name(official: str) -> str | None:
    """gad's name of an official ``MyDictionary`` parameter, ``None`` for a name that is not one."""
    for prefix, ours in MODULES.items():
        if official.startswith(prefix):
            rest = official[len(prefix) :]
            if ours.startswith("head."):
                return ours + rest
            for name, mine in BLOCK.items():
                if rest.startswith(name):
                    return ours + mine + rest[len(name) :]
    return None


def convert(weights: dict[str, Tensor], path: str | Path) -> dict[str, Tensor]:
    """The official state dict under gad's ``DictASModel`` names; any name that does not map is refused."""
    renamed = {official: gad_name(official) for official in weights}
    unknown = sorted(k for k, v in renamed.items() if v is None)
    if unknown:
        raise CheckpointError(f"{path}: {unknown[:5]} are not parameters of the official DictAS MyDictionary.")
    return {name: weights[k].float() for k, name in renamed.items() if name is not None}


def import_dictas(
    weights: str | Path,
    clip: str | Path,
    output: str | Path,
    clip_config: str | Path | None = None,
    protocol: Protocol | None = None,
    image_size: int | None = None,
) -> Path:
    """Write ``output``, a gad DictAS checkpoint of the released ``weights`` on the CLIP file ``clip`` (run with exact
    GELU, as the authors did), read with the official test rules of ``protocol`` (layers, scales, sigma, alpha)."""
    tensors = convert(read_official(weights, "dictas")["Mymodel"], weights)
    clip = Path(clip).expanduser().resolve()
    if not clip.is_file():
        raise WeightsNotFoundError(
            f"--clip {clip} does not exist: give the CLIP file the DictAS weights were trained on "
            "(OpenAI's ViT-L-14-336px.pt for the released ones)."
        )
    custom = read_model_config(clip_config)
    model_name, model_config = custom if custom else (PAPER_CLIP, None)
    backbone = ClipConfig(
        model_name=model_name,
        pretrained=str(clip),
        layers=list(PAPER_LAYERS),
        image_size=image_size,
        quick_gelu=False,
        model_config=model_config,
    )
    rules: dict[str, Any] = {}
    if protocol is not None:
        settings = official_settings(protocol, "", 1)
        assert settings.layers is not None and settings.scales is not None  # the protocol rules set both
        rules = {
            "protocol": protocol,
            "test_layers": list(settings.layers),
            "test_scales": list(settings.scales),
            "sigma": settings.sigma,
            "alpha": settings.alpha,
        }
    module = DictAS(backbone=backbone, **rules)  # its default preprocessing is the official rule
    clip_name = f"{model_name!r} ({clip})"
    fit_tensors(module.model, tensors, weights, clip_name, lambda name: name.startswith("backbone."))
    return write_checkpoint(
        module,
        output,
        imported={"method": "dictas", "weights": str(Path(weights).resolve()), "clip": str(clip), "protocol": protocol},
    )

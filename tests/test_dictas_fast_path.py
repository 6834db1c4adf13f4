"""DictAS's fast inference (batched generators, g_Q's output map folded into the keys, top-k sparsemax lookup)
against the straightforward path: one layer and scale at a time, every score row sorted, written out here as the
reference."""

from __future__ import annotations

import pytest
import torch

from gad.models.components.anomaly_map import upsample_and_smooth
from gad.models.components.clip_backbone import ClipBackbone, ClipConfig
from gad.models.dictas import DictASModel
from gad.models.dictas.lookup import cosine_distance, lookup
from gad.models.dictas.pooling import pool_tokens
from gad.models.dictas.sparsemax import sparsemax_topk

SIZE = 56  # a 7x7 grid (the tiny CLIP's native 112 px gives 14x14): both paths compared, at a sixteenth of the lookup
TINY = ClipConfig(model_name="gad-tiny-vit", pretrained=None, layers=[1, 2, 3, 4], image_size=SIZE)


def reference_map(model: DictASModel, images: torch.Tensor, references: torch.Tensor, category: str) -> torch.Tensor:
    """The anomaly map computed the plain way: the dictionary from the references, then per layer and scale,
    every generator as a whole and the exact sort-based sparsemax."""
    settings, grid = model.settings_for(category, len(references)), model.backbone.grid
    tokens, reference_tokens = model.backbone(images).patch_tokens, model.backbone(references).patch_tokens
    distances = []
    for layer in settings.layers:
        position = model.backbone.layers.index(layer)
        query = model.generators.value(tokens[position])
        for kernel in settings.scales:
            pooled = pool_tokens(query, grid, kernel)
            dictionary = pool_tokens(reference_tokens[position], grid, kernel).flatten(0, 1).unsqueeze(0)
            keys, values = model.generators.dictionary(dictionary)
            retrieved = lookup(model.generators.query(pooled), keys, values, "sparse", topk=None)
            distances.append(cosine_distance(pooled, retrieved) / 2)
    scores = torch.stack(distances).mean(dim=0).unflatten(1, grid)
    return upsample_and_smooth(scores, images.shape[-1], settings.sigma, align_corners=True)


@pytest.mark.parametrize("sharpness", [1.0, 40.0])
def test_fast_inference_matches_the_reference_path(sharpness: float, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model = DictASModel(ClipBackbone(TINY), sparsemax_topk=8).eval()
    with torch.no_grad():  # sharper query/key scores: narrow supports, so the top-k path (not its fallback) runs
        model.generators.query.fc3.weight.mul_(sharpness)
        model.generators.key.fc3.weight.mul_(sharpness)
    generator = torch.Generator().manual_seed(1)
    references, queries = (
        torch.rand(3, 3, SIZE, SIZE, generator=generator),
        torch.rand(4, 3, SIZE, SIZE, generator=generator),
    )
    exact_rows = []

    def counting(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = sparsemax_topk(scores, k)
        exact_rows.append(out[2].float().mean().item())
        return out

    monkeypatch.setattr("gad.models.dictas.lookup.sparsemax_topk", counting)
    with torch.inference_mode():
        model.set_references("brick", references)
        fast = model(queries, "brick").anomaly_map
        expected = reference_map(model, queries, references, "brick")
    assert fast is not None
    torch.testing.assert_close(fast, expected, atol=1e-5, rtol=0)
    mean_exact = sum(exact_rows) / len(exact_rows)
    assert mean_exact > 0.9 if sharpness > 1 else mean_exact < 0.5  # both the top-k path and its fallback ran

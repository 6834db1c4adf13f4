"""One query encoding scored against several reference sets equals each set scored on its own (``predict``), for
every method, with batches that mix categories and sets of different K and per-dataset settings."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from gad.models.components.clip_backbone import ClipBackbone, ClipConfig
from gad.models.components.few_shot import FewShotModel
from gad.models.dictas import DictASModel
from gad.models.dictas.settings import InferenceSettings
from gad.models.inctrl.torch_model import InCTRLModel
from gad.models.multi_set import MultiSetScorer
from gad.models.patch_residual import PatchResidualModel


def tiny(layers: list[int]) -> ClipBackbone:
    return ClipBackbone(ClipConfig(model_name="gad-tiny-vit", pretrained=None, layers=layers))


MODELS: dict[str, Callable[[], FewShotModel]] = {
    "dictas": lambda: DictASModel(tiny([1, 2, 3, 4]), sparsemax_topk=8),
    "inctrl": lambda: InCTRLModel(tiny([1, 2, 3])),
    "patch_residual": lambda: PatchResidualModel(tiny([1, 2, 3])),
}
CATEGORIES = ("brick", "screw")


def reference_sets(shots: list[int]) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(3)
    return [{c: torch.rand(k, 3, 112, 112, generator=generator) for c in CATEGORIES} for k in shots]


@pytest.mark.parametrize("method", sorted(MODELS))
def test_one_encoding_scored_per_set_equals_separate_predictions(method: str) -> None:
    torch.manual_seed(0)
    model = MODELS[method]().eval()
    sets = reference_sets([1, 3, 2])
    queries = torch.rand(5, 3, 112, 112, generator=torch.Generator().manual_seed(4))
    categories = ["screw", "brick", "screw", "screw", "brick"]
    with torch.inference_mode():
        swept = MultiSetScorer(model, [s.__getitem__ for s in sets])(queries, categories)
        for references, got in zip(sets, swept):
            for category in CATEGORIES:
                rows = torch.tensor([i for i, c in enumerate(categories) if c == category])
                alone = model.predict(queries[rows], model.encode_references(references[category], category), category)
                torch.testing.assert_close(got.score[rows], alone.score.float(), rtol=0, atol=1e-6)
                assert got.anomaly_map is not None and alone.anomaly_map is not None
                torch.testing.assert_close(got.anomaly_map[rows], alone.anomaly_map.float(), rtol=0, atol=1e-6)
                assert sorted(got.parts) == sorted(alone.parts)
                for name, part in alone.parts.items():
                    torch.testing.assert_close(got.parts[name][rows], part.float(), rtol=0, atol=1e-6)


def test_dictas_sets_read_with_other_layers_and_scales_share_one_query_encoding() -> None:
    """Dictionaries read with other layers and scales (as a dataset's official protocol does) are each scored
    from the same encoded queries, as their own prediction would be."""
    torch.manual_seed(0)
    model = DictASModel(tiny([1, 2, 3, 4]), sparsemax_topk=8).eval()
    plain, shallow = model.inference, InferenceSettings(layers=(1, 2), scales=(1,), sigma=2.0)
    references = reference_sets([2])[0]["brick"]
    queries = torch.rand(3, 3, 112, 112, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        encoded = model.encode_queries(queries)
        for settings in (shallow, plain):
            model.inference = settings
            dictionary = model.encode_references(references, "brick")
            got = model.score(encoded, dictionary, "brick")
            alone = model.predict(queries, dictionary, "brick")
            torch.testing.assert_close(got.anomaly_map, alone.anomaly_map, rtol=0, atol=1e-6)
        assert sorted(encoded.lookup_inputs) == [((0, 1), (1,)), ((0, 1, 2, 3), (1, 3))]


def test_several_sets_keep_only_the_current_categories_references() -> None:
    torch.manual_seed(0)
    model = PatchResidualModel(tiny([1, 2, 3])).eval()
    sets = reference_sets([1, 2])
    calls: list[str] = []

    def counted(references: dict[str, torch.Tensor]) -> Callable[[str], torch.Tensor]:
        def images(category: str) -> torch.Tensor:
            calls.append(category)
            return references[category]

        return images

    scorer = MultiSetScorer(model, [counted(s) for s in sets])
    queries = torch.rand(2, 3, 112, 112)
    with torch.inference_mode():
        scorer(queries, ["brick", "brick"])
        scorer(queries, ["brick", "screw"])
        assert sorted(scorer.encoded) == ["brick", "screw"]
        scorer(queries, ["screw", "screw"])
        assert list(scorer.encoded) == ["screw"]
    assert calls == ["brick", "brick", "screw", "screw"]

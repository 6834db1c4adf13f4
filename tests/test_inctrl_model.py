"""InCTRL's pure torch model: vectorised residual, focal loss, batch invariance, prompt routing and gradients."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from gad.models.components.clip_backbone import ClipBackbone, ClipConfig
from gad.models.inctrl import InCTRL, InCTRLModel, focal_loss, paper_backbone
from gad.models.inctrl.residual import patch_residual, patch_residual_loop

TINY = ClipConfig(model_name="gad-tiny-vit-b", pretrained=None, layers=[7, 9, 11], image_size=96)


@pytest.fixture(scope="module")
def model() -> InCTRLModel:
    torch.manual_seed(0)
    model = InCTRLModel(ClipBackbone(TINY), sigma=2.0)
    # Non-trivial BatchNorm running statistics, as after some training.
    for head in (model.image_head, model.holistic_head):
        for norm in head.norms:
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.5, 2.0)
    return model


def images(count: int, seed: int) -> torch.Tensor:
    return torch.rand(count, 3, 96, 96, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("shared", [True, False])
def test_vectorised_residual_equals_naive_loop(shared: bool) -> None:
    generator = torch.Generator().manual_seed(1)
    query = F.normalize(torch.randn(3, 2, 10, 8, generator=generator), dim=-1)
    prompts = F.normalize(torch.randn(1 if shared else 3, 2, 20, 8, generator=generator), dim=-1)
    fast, slow = patch_residual(query, prompts), patch_residual_loop(query, prompts)
    assert fast.shape == (3, 10)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-6)
    assert fast.min() >= 0 and fast.max() <= 1


def test_residual_is_zero_for_a_query_among_its_prompts() -> None:
    query = F.normalize(torch.randn(2, 3, 5, 4), dim=-1)
    prompts = torch.cat([query, F.normalize(torch.randn(2, 3, 5, 4), dim=-1)], dim=2)
    torch.testing.assert_close(patch_residual(query, prompts), torch.zeros(2, 5), atol=1e-6, rtol=0)


def test_focal_loss_hand_computed() -> None:
    p, y = torch.tensor([0.9, 0.2, 0.6]), torch.tensor([1, 0, 0])
    # p_t = 0.9, 0.8, 0.4: (1 - p_t)^2 * -log(p_t)
    expected = (0.01 * -math.log(0.9) + 0.04 * -math.log(0.8) + 0.36 * -math.log(0.4)) / 3
    assert focal_loss(p, y).item() == pytest.approx(expected, rel=1e-5)
    assert focal_loss(p, y, gamma=0.0).item() == pytest.approx(F.binary_cross_entropy(p, y.float()).item(), rel=1e-5)
    assert focal_loss(torch.tensor([1.0, 0.0]), torch.tensor([1, 0])).item() == pytest.approx(0.0, abs=1e-8)


def test_focal_loss_official_double_sigmoid() -> None:
    q = 1 / (1 + math.exp(-0.9))  # the official loss squashes the probability 0.9 once more
    expected = (1 - q) ** 2 * -math.log(q)
    loss = focal_loss(torch.tensor([0.9]), torch.tensor([1]), double_sigmoid=True)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("train_mode", [False, True])
def test_scores_do_not_depend_on_the_rest_of_the_batch(model: InCTRLModel, train_mode: bool) -> None:
    model.train(train_mode)
    model.set_references("thing", images(4, seed=2))
    queries = images(5, seed=3)
    with torch.no_grad():
        together = model(queries, "thing")
        alone = [model(queries[i : i + 1], "thing") for i in range(5)]
    torch.testing.assert_close(together.score, torch.cat([a.score for a in alone]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(together.anomaly_map, torch.cat([a.anomaly_map for a in alone]), rtol=1e-5, atol=1e-6)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(queries, "thing").score, together.score)
    model.clear_references()


def test_training_queries_meet_only_their_own_prompts(model: InCTRLModel) -> None:
    """Each query's score with its own support equals scoring it against that support as references: no mixing of
    layers or prompts across the batch (the official reshape bug)."""
    queries, support = images(3, seed=4), images(6, seed=5).view(3, 2, 3, 96, 96)
    categories = ["a", "b", "a"]
    with torch.no_grad():
        batched = model.score_with_support(queries, support, categories)
        for i in range(3):
            model.set_references(categories[i], support[i])
            single = model(queries[i : i + 1], categories[i])
            torch.testing.assert_close(batched.score[i : i + 1], single.score, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(batched.image[i : i + 1], single.parts["image"], rtol=1e-5, atol=1e-6)
            model.clear_references()


def test_final_score_weights_the_maximum_residual() -> None:
    torch.manual_seed(0)
    model = InCTRLModel(ClipBackbone(TINY), patch_weight=0.5)
    model.set_references("thing", images(2, seed=6))
    with torch.no_grad():
        out = model(images(3, seed=7), "thing")
    parts = out.parts
    torch.testing.assert_close(out.score, (parts["holistic"] + 0.5 * parts["patch_max"]) / 1.5)
    assert out.anomaly_map.shape == (3, 1, 96, 96)
    torch.testing.assert_close(out.anomaly_map.flatten(1).amax(1), parts["patch_max"], rtol=0.05, atol=0.02)


def test_only_adapter_and_heads_get_gradients(model: InCTRLModel) -> None:
    model.zero_grad(set_to_none=True)
    support = images(8, seed=9).view(4, 2, 3, 96, 96)
    scores = model.score_with_support(images(4, seed=8), support, ["x"] * 4, batch_statistics=True)
    labels = torch.tensor([0, 1, 0, 1])
    (focal_loss(scores.score, labels) + focal_loss(scores.image, labels)).backward()
    trainable = {id(p) for p in model.trainable_parameters()}
    for name, p in model.named_parameters():
        if id(p) in trainable:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert name.startswith("backbone.") and p.grad is None and not p.requires_grad, name
    names = [n for n, p in model.named_parameters() if id(p) in trainable]
    assert names and all(n.startswith(("adapter.", "image_head.", "holistic_head.")) for n in names)
    model.zero_grad(set_to_none=True)


def test_text_prototypes_are_encoded_once_per_category(model: InCTRLModel) -> None:
    model.prompts.clear_cache()
    model.text(["cat", "screw", "cat"])
    model.text(["screw"])
    assert sorted(category for _, category in model.prompts._cache) == ["cat", "screw"]


def test_bf16_autocast_scores_stay_close(model: InCTRLModel) -> None:
    model.eval()
    model.set_references("thing", images(2, seed=10))
    queries = images(3, seed=11)
    with torch.no_grad():
        full = model(queries, "thing").score
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = model(queries, "thing").score
    assert half.dtype == torch.float32 and torch.isfinite(half).all()
    torch.testing.assert_close(half, full, atol=0.05, rtol=0)
    model.clear_references()


def test_paper_defaults() -> None:
    config = paper_backbone()
    assert (config.model_name, config.pretrained, config.layers, config.image_size) == (
        "ViT-B-16-plus-240",
        "laion400m_e32",
        [7, 9, 11],
        240,
    )
    module = InCTRL(TINY)
    assert module.hparams.lr == 1e-3 and module.hparams.patch_weight == 1.0 and module.hparams.focal_gamma == 2.0
    assert module.model.holistic_head.linears[0].in_features == 36  # one input per patch of the 6x6 grid
    assert sum(p.numel() for p in module.model.adapter.parameters()) == 2 * 64 * 16

"""DictAS building blocks on hand-made tensors: sparsemax, lookup, pooling, generators, head, losses, test rules."""

from __future__ import annotations

import math

import pytest
import torch

from gad.errors import ConfigError
from gad.models.dictas.attention import AttentionBlock
from gad.models.dictas.generators import DictionaryGenerators, init_weights
from gad.models.dictas.global_head import GlobalHead
from gad.models.dictas.lookup import cosine_distance, lookup, lookup_weights, sparse_lookup
from gad.models.dictas.losses import patch_anomaly_mask, query_losses, text_alignment_loss
from gad.models.dictas.pooling import pool_tokens
from gad.models.dictas.protocol import SCREW_ROTATIONS, official_settings
from gad.models.dictas.score_fusion import ScoreParts, fuse_normalised
from gad.models.dictas.sparsemax import sparsemax, sparsemax_topk


# ----- sparsemax ---------------------------------------------------------------------------------------------
def simplex_projection(z: torch.Tensor, iterations: int = 200) -> torch.Tensor:
    """Brute-force reference: argmin_p ||p - z|| on the simplex is max(0, z - tau) with sum 1; find tau by bisection."""
    low = z.min(dim=-1, keepdim=True).values - 1
    high = z.max(dim=-1, keepdim=True).values
    for _ in range(iterations):
        tau = (low + high) / 2
        too_much = (z - tau).clamp(min=0).sum(dim=-1, keepdim=True) > 1
        low, high = torch.where(too_much, tau, low), torch.where(too_much, high, tau)
    return (z - (low + high) / 2).clamp(min=0)


@pytest.mark.parametrize("scale", [0.1, 1.0, 10.0])
def test_sparsemax_matches_simplex_projection(scale: float) -> None:
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(64, 37, generator=generator, dtype=torch.float64) * scale
    torch.testing.assert_close(sparsemax(z), simplex_projection(z), atol=1e-9, rtol=0)


def test_sparsemax_with_ties_and_other_dims() -> None:
    z = torch.tensor([[1.0, 1.0, 0.0, -2.0], [3.0, 3.0, 3.0, 3.0], [2.0, 0.5, 2.0, 0.5]], dtype=torch.float64)
    torch.testing.assert_close(sparsemax(z), simplex_projection(z), atol=1e-9, rtol=0)
    torch.testing.assert_close(sparsemax(z)[0], torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(sparsemax(z.T, dim=0), sparsemax(z).T)
    integer_ties = torch.randint(0, 3, (50, 9), generator=torch.Generator().manual_seed(1)).double()
    torch.testing.assert_close(sparsemax(integer_ties), simplex_projection(integer_ties), atol=1e-9, rtol=0)


def test_sparsemax_is_on_the_simplex_and_sparse() -> None:
    p = sparsemax(torch.randn(32, 100, generator=torch.Generator().manual_seed(2)) * 5)
    assert (p >= 0).all()
    torch.testing.assert_close(p.sum(dim=-1), torch.ones(32))
    assert (p == 0).float().mean() > 0.5


def test_sparsemax_gradient_is_the_sparsemax_jacobian() -> None:
    """d p / d z = diag(s) - s s^T / |S|, s the support indicator (away from ties)."""
    z = torch.randn(6, generator=torch.Generator().manual_seed(3), dtype=torch.float64, requires_grad=True)
    p = sparsemax(z)
    support = (p > 0).double()
    expected = torch.diag(support) - torch.outer(support, support) / support.sum()
    jacobian = torch.autograd.functional.jacobian(sparsemax, z.detach())
    torch.testing.assert_close(jacobian, expected)
    assert torch.autograd.gradcheck(sparsemax, (z,))


# ----- lookup ------------------------------------------------------------------------------------------------
def test_lookup_strategies() -> None:
    scores = torch.randn(2, 5, 7, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(lookup_weights(scores, "dense"), scores.softmax(dim=-1))
    torch.testing.assert_close(lookup_weights(scores, "sparse"), sparsemax(scores))
    one_hot = torch.nn.functional.one_hot(scores.argmax(dim=-1), 7).float()
    torch.testing.assert_close(lookup_weights(scores, "maximum"), one_hot)
    with pytest.raises(ConfigError, match="lookup strategy"):
        lookup_weights(scores, "nearest")  # type: ignore[arg-type]


def test_lookup_scales_scores_and_mixes_values() -> None:
    queries, keys = torch.randn(2, 3, 16), torch.randn(1, 10, 16)
    values = torch.randn(1, 10, 16)
    expected = (queries @ keys.transpose(1, 2) / 4).softmax(dim=-1) @ values  # 1/sqrt(16)
    torch.testing.assert_close(lookup(queries, keys, values, "dense"), expected)


def test_exact_match_is_retrieved_with_zero_distance() -> None:
    tokens = torch.nn.functional.normalize(torch.randn(1, 20, 32), dim=-1) * 30
    for strategy in ("maximum", "sparse"):
        retrieved = lookup(tokens[:, 5:9], tokens, tokens, strategy)
        torch.testing.assert_close(cosine_distance(tokens[:, 5:9], retrieved), torch.zeros(1, 4), atol=1e-5, rtol=0)


@pytest.mark.parametrize("scale", [0.01, 3.0, 30.0])
def test_sparsemax_topk_is_exact_where_it_says_so(scale: float) -> None:
    scores = torch.randn(4, 50, 300, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * scale
    weights, indices, exact = sparsemax_topk(scores, 16)
    dense = torch.zeros_like(scores).scatter_(-1, indices, weights)
    reference = sparsemax(scores)
    support = (reference > 0).sum(dim=-1)
    torch.testing.assert_close(exact, support < 16)
    torch.testing.assert_close(dense[exact], reference[exact], atol=1e-12, rtol=0)
    assert scale != 30.0 or bool(exact.all())  # large score spreads: few entries in the support
    assert scale != 0.01 or not bool(exact.any())  # flat scores: the support spans the whole row


@pytest.mark.parametrize("scale", [0.05, 1.0, 20.0])
@pytest.mark.parametrize("shared", [True, False])
def test_sparse_lookup_equals_the_sort_based_lookup(scale: float, shared: bool) -> None:
    generator = torch.Generator().manual_seed(6)
    scores = torch.randn(3, 40, 120, generator=generator, dtype=torch.float64) * scale
    scores[1, :5] *= 0.01  # some rows with a wide support, to exercise the fallback next to fast rows
    values = torch.randn(1 if shared else 3, 120, 8, generator=generator, dtype=torch.float64)
    fast = sparse_lookup(scores, values, topk=8)
    torch.testing.assert_close(fast, sparsemax(scores) @ values, atol=1e-12, rtol=0)
    queries, keys = torch.randn(2, 30, 16, generator=generator), torch.randn(1, 90, 16, generator=generator) * 3
    torch.testing.assert_close(
        lookup(queries, keys, keys, "sparse", topk=4), lookup(queries, keys, keys, "sparse"), atol=1e-6, rtol=0
    )


# ----- pooling -----------------------------------------------------------------------------------------------
def test_pooling_counts_zero_padding_at_borders() -> None:
    tokens = torch.ones(1, 9, 2)
    pooled = pool_tokens(tokens, (3, 3), 3)[0, :, 0].view(3, 3)
    expected = torch.tensor([[4, 6, 4], [6, 9, 6], [4, 6, 4]]) / 9
    torch.testing.assert_close(pooled, expected)
    assert pool_tokens(tokens, (3, 3), 1) is tokens


def test_pooling_of_a_ramp_and_even_kernels_pad_after() -> None:
    grid = torch.arange(16.0).view(1, 16, 1)  # 4 x 4, value = 4 * row + column
    pooled = pool_tokens(grid, (4, 4), 3).view(4, 4)
    assert pooled[1, 1] == pytest.approx(sum(4 * r + c for r in range(3) for c in range(3)) / 9)
    assert pooled[0, 0] == pytest.approx((0 + 1 + 4 + 5) / 9)
    even = pool_tokens(grid, (4, 4), 2).view(4, 4)
    assert even[0, 0] == pytest.approx((0 + 1 + 4 + 5) / 4)  # no padding before, one after
    assert even[3, 3] == pytest.approx(15 / 4)


# ----- generators and head -----------------------------------------------------------------------------------
def test_block_and_generators_follow_the_official_architecture() -> None:
    width = 1024
    block = AttentionBlock(width, num_heads=4)
    assert sum(p.numel() for p in block.parameters()) == 6_297_600
    assert sum(p.numel() for p in GlobalHead(width, 4, 768).parameters()) == 2_492_161
    assert block.fc3.bias is None and block.q.bias is None and block.fc1.bias is not None


def test_initialisation() -> None:
    generators = DictionaryGenerators(256)
    init_weights(generators)
    weight = generators.key.fc1.weight
    assert abs(weight.std().item() - 0.02) < 0.002 and generators.key.fc1.bias.abs().max() == 0
    assert (generators.query.norm1.weight == 1).all() and (generators.query.norm1.bias == 0).all()


def test_value_generator_is_residual() -> None:
    generators = DictionaryGenerators(32, dropout=0.0)
    x = torch.randn(2, 7, 32)
    torch.testing.assert_close(generators.value(x), x + generators.value.block(x))
    torch.nn.init.zeros_(generators.value.block.fc3.weight)
    torch.testing.assert_close(generators.value(x), x)


def test_key_and_value_attention_spans_all_shots() -> None:
    """Keys and values of shot 1 change when only shot 2 changes: one sequence over all references."""
    generators = DictionaryGenerators(32, dropout=0.0)  # PyTorch's default init: attention well above noise
    shots = torch.randn(2, 10, 32)
    keys, values = generators.dictionary(shots.flatten(0, 1).unsqueeze(0))
    changed = shots.clone()
    changed[1] = torch.randn(10, 32)
    keys2, values2 = generators.dictionary(changed.flatten(0, 1).unsqueeze(0))
    assert not torch.allclose(keys[:, :10], keys2[:, :10]) and not torch.allclose(values[:, :10], values2[:, :10])
    separate, _ = generators.dictionary(shots[:1])
    assert not torch.allclose(separate, keys[:, :10])


def test_global_head_pools_any_number_of_layers() -> None:
    head = GlobalHead(32, num_layers=3, embed_dim=16)
    assert head([torch.randn(5, 49, 32) for _ in range(3)]).shape == (5, 16)


# ----- losses ------------------------------------------------------------------------------------------------
def test_patch_anomaly_mask() -> None:
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4, :4] = 1
    torch.testing.assert_close(patch_anomaly_mask(mask, (2, 2)), torch.tensor([[1.0, 0.0, 0.0, 0.0]]))


def test_query_loss_and_cqc_by_hand() -> None:
    anomalous = torch.tensor([[0.0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0]])
    distance = torch.tensor([[0.2, 0.4, 0.9, 0.9], [0.8, 0.8, 0.1, 0.3], [0.5, 0.5, 0.5, 0.5]])
    lq, cqc = query_losses(distance, anomalous)
    assert lq.item() == pytest.approx((0.3 + 0.8 + 0.5) / 3, abs=1e-5)
    # only sample 1 violates (0.8 normal vs 0.2 anomalous); sample 2 has no anomaly, sample 0 is fine
    assert cqc.item() == pytest.approx(0.6, abs=1e-5)


def test_query_loss_ignores_anomalous_patches_and_cqc_is_zero_without_anomaly() -> None:
    anomalous = torch.tensor([[0.0, 1.0]])
    lq, _ = query_losses(torch.tensor([[0.3, 0.0]]), anomalous)
    lq2, _ = query_losses(torch.tensor([[0.3, 1.7]]), anomalous)
    assert lq.item() == pytest.approx(0.3, abs=1e-5) and lq2.item() == pytest.approx(0.3, abs=1e-5)
    lq, cqc = query_losses(torch.rand(4, 9), torch.zeros(4, 9))
    assert cqc.item() == 0


def test_text_alignment_loss_by_hand() -> None:
    text = torch.eye(3)[:2].expand(2, 2, 3)  # normal = e0, abnormal = e1
    orthogonal = torch.tensor([[0.0, 0.0, 1.0]] * 2)
    loss = text_alignment_loss(orthogonal, orthogonal, text, torch.tensor([0, 1]))
    assert loss.item() == pytest.approx(2 * math.log(2), abs=1e-5)
    query = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # each aligned with its label's text
    retrieved = torch.tensor([[2.0, 0.0, 0.0]] * 2)  # normal
    assert text_alignment_loss(query, retrieved, text, torch.tensor([0, 1])).item() < 1e-6


# ----- official test rules and score fusion ------------------------------------------------------------------
def test_official_rules() -> None:
    assert official_settings("mvtec", "bottle", 4).layers == (6, 12)
    assert official_settings("mvtec", "screw", 4).rotations == SCREW_ROTATIONS
    screw8 = official_settings("mvtec", "screw", 8)
    assert screw8.rotations == () and screw8.layers == (6, 12, 18, 24)
    btad = official_settings("btad", "wood", 1)
    assert (btad.layers, btad.scales, btad.alpha) == ((6, 12), (1,), 0.0)
    assert official_settings("mvtec", "wood", 1).alpha == 0.2
    visa = official_settings("visa", "candle", 1)
    assert (visa.layers, visa.scales, visa.sigma, visa.alpha) == ((6, 12, 18, 24), (1, 3), 6.0, 0.2)
    assert official_settings("resc", "retina", 2).alpha == 0.5
    assert official_settings("mpdd", "bracket_brown", 2).alpha == 0.0


def test_test_set_min_max_fusion() -> None:
    parts = ScoreParts()
    parts.update(
        torch.tensor([0, 0, 1]),
        torch.tensor([1.0, 3.0, 5.0]),
        torch.tensor([0.2, 0.6, 0.9]),
        torch.tensor([0.5, 0.5, 0.0]),
    )
    parts.update(torch.tensor([1]), torch.tensor([7.0]), torch.tensor([0.1]), torch.tensor([0.0]))
    fused = fuse_normalised(parts.states(), parts.compute())
    torch.testing.assert_close(fused, torch.tensor([0.0, 1.0, 0.0, 1.0]), atol=1e-5, rtol=0)

"""WinCLIP on a tiny random CLIP: windows, harmonic aggregation, window embeddings, zero-/few-shot scoring."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from gad.errors import ConfigError
from gad.models.components.clip_backbone import ClipBackbone, ClipConfig
from gad.models.winclip import WinCLIPModel
from gad.models.winclip.window_encoder import window_embeddings
from gad.models.winclip.windows import harmonic_aggregation, window_masks

SIZE = 64  # gad-tiny-vit at 64 px: 8 px patches, an 8 x 8 grid


@pytest.fixture(scope="module")
def model() -> WinCLIPModel:
    torch.manual_seed(0)
    return WinCLIPModel(
        ClipBackbone(ClipConfig("gad-tiny-vit", None, [2, 4], image_size=SIZE)), scales=(2, 3), sigma=1.0
    )


def images(count: int, seed: int) -> Tensor:
    return torch.rand(count, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    ("grid", "size", "stride"), [((15, 15), 2, 1), ((15, 15), 3, 1), ((15, 15), 3, 2), ((7, 5), 3, 2), ((7, 5), 2, 2)]
)
def test_window_masks_cover_every_patch_with_square_windows(grid: tuple[int, int], size: int, stride: int) -> None:
    masks = window_masks(grid, size, stride)
    height, width = grid
    assert set(masks.flatten().tolist()) == set(range(height * width))
    rows, columns = masks // width, masks % width
    for r, c in zip(rows, columns):  # each window: a size x size square, row-major
        assert r.view(size, size).tolist() == [[int(r[0]) + i] * size for i in range(size)]
        assert c.view(size, size).tolist() == [list(range(int(c[0]), int(c[0]) + size))] * size
    if stride == 1:
        assert len(masks) == (height - size + 1) * (width - size + 1)
        assert len(set(map(tuple, masks.tolist()))) == len(masks)


@pytest.mark.parametrize(("size", "stride"), [(4, 1), (2, 3), (2, 0)])
def test_window_masks_refuse_windows_that_would_leave_patches_uncovered(size: int, stride: int) -> None:
    with pytest.raises(ConfigError, match="does not cover the 3x4 patch grid"):
        window_masks((3, 4), size, stride)


def test_harmonic_aggregation_matches_a_hand_computed_grid() -> None:
    # 3 x 3 grid, four 2 x 2 windows (top-left, top-right, bottom-left, bottom-right)
    scores = torch.tensor([[1.0, 0.5, 0.25, 0.2]])
    expected = torch.tensor(
        [
            [1.0, 2 / (1 + 2), 0.5],
            [2 / (1 + 4), 4 / (1 + 2 + 4 + 5), 2 / (2 + 5)],
            [0.25, 2 / (4 + 5), 0.2],
        ]
    )
    aggregated = harmonic_aggregation(scores, window_masks((3, 3), 2), 9)
    torch.testing.assert_close(aggregated.view(3, 3), expected[None].view(3, 3))
    zero = harmonic_aggregation(torch.tensor([[0.0, 0.5, 0.25, 0.2]]), window_masks((3, 3), 2), 9)
    assert zero.view(3, 3)[0, 0] == 0 and zero.view(3, 3)[1, 1] == 0 and not zero.isnan().any()


def test_window_embedding_is_the_image_tower_on_the_window_tokens_alone(model: WinCLIPModel) -> None:
    backbone, x = model.backbone, images(2, 1)
    whole = window_embeddings(backbone, x, [window_masks(backbone.grid, 8)])[0][:, 0]
    torch.testing.assert_close(whole, backbone(x, embedding=True).embedding)
    masks = window_masks(backbone.grid, 3)
    batched = window_embeddings(backbone, x, [masks])[0]
    visual = backbone.model.visual
    normalised = (x - backbone.mean) / backbone.std
    for w in (0, 20, len(masks) - 1):  # open_clip's own forward, its patch dropout replaced by "keep the window"
        keep = torch.cat([torch.zeros(1, dtype=torch.long), masks[w] + 1])
        visual.patch_dropout = _Keep(keep)
        try:
            expected = nn.functional.normalize(visual(normalised), dim=-1)
        finally:
            visual.patch_dropout = nn.Identity()
        torch.testing.assert_close(batched[:, w], expected, rtol=1e-4, atol=1e-5)


class _Keep(nn.Module):
    def __init__(self, index: Tensor) -> None:
        super().__init__()
        self.index = index

    def forward(self, tokens: Tensor) -> Tensor:
        return tokens[:, self.index]


def test_zero_shot_scores_do_not_change_with_the_references(model: WinCLIPModel) -> None:
    queries = images(3, 2)
    zero = model.predict(queries, model.encode_references(images(0, 0), "cable"), "cable")
    assert zero.parts.keys() == {"zero_shot"}
    torch.testing.assert_close(zero.score, zero.parts["zero_shot"])
    first = model.predict(queries, model.encode_references(images(2, 3), "cable"), "cable")
    second = model.predict(queries, model.encode_references(images(4, 4), "cable"), "cable")
    torch.testing.assert_close(first.parts["zero_shot"], zero.score)
    torch.testing.assert_close(second.parts["zero_shot"], zero.score)
    assert not torch.allclose(first.score, second.score)  # the references do matter to WinCLIP+
    torch.testing.assert_close(first.score, (zero.score + first.parts["few_shot"]) / 2)


def test_few_shot_map_is_the_max_similarity_memory_of_a_plain_loop(model: WinCLIPModel) -> None:
    queries, references = model.encode_queries(images(2, 5)), model.encode_queries(images(3, 6))
    memory = model.encode_references(images(3, 6), "cable")
    patches = model.patches

    def distance(feature: Tensor, bank: Tensor) -> float:  # bank: (K, M, C), one reference at a time
        return (1 - max(float((reference @ feature).max()) for reference in bank)) / 2

    expected = torch.zeros(2, patches)
    for b in range(2):
        patch_map = torch.tensor(
            [
                sum(distance(q[b, n], r) for q, r in zip(queries.patches, references.patches)) / len(queries.patches)
                for n in range(patches)
            ]
        )
        maps = [patch_map]
        for windows, bank, masks in zip(queries.windows, references.windows, model.masks):
            window_scores = [distance(windows[b, w], bank) for w in range(len(masks))]
            covering = [[w for w in range(len(masks)) if n in masks[w].tolist()] for n in range(patches)]
            maps.append(torch.tensor([len(c) / sum(1 / window_scores[w] for w in c) for c in covering]))
        expected[b] = torch.stack(maps).mean(dim=0)
    torch.testing.assert_close(model.few_shot(queries, memory), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("shots", [0, 2])
def test_each_image_scores_the_same_alone_or_in_a_batch(model: WinCLIPModel, shots: int) -> None:
    references = model.encode_references(images(shots, 7), "screw")
    batch = images(4, 8)
    together = model.predict(batch, references, "screw")
    for i in range(len(batch)):
        alone = model.predict(batch[i : i + 1], references, "screw")
        torch.testing.assert_close(alone.score, together.score[i : i + 1], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(alone.anomaly_map, together.anomaly_map[i : i + 1], rtol=1e-5, atol=1e-6)
    assert together.anomaly_map is not None and together.anomaly_map.shape == (4, 1, SIZE, SIZE)


def test_scores_are_float32_under_bf16_autocast(model: WinCLIPModel) -> None:
    references, queries = model.encode_references(images(2, 9), "wood"), images(2, 10)
    exact = model.predict(queries, references, "wood")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model.predict(queries, references, "wood")
    assert mixed.score.dtype == torch.float32 and mixed.anomaly_map is not None
    assert mixed.anomaly_map.dtype == torch.float32
    torch.testing.assert_close(mixed.score, exact.score, rtol=0, atol=0.05)

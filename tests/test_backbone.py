"""The shared CLIP backbone on tiny random configs: layers, shapes, frozen, weights and errors."""

from __future__ import annotations

import open_clip
import pytest
import torch

from gad.models.components.clip_backbone import ClipBackbone, ClipConfig, UnknownModelError
from gad.errors import ConfigError
from gad.models.components.pretrained import WeightsNotFoundError


@pytest.fixture(scope="module")
def tiny() -> ClipBackbone:
    torch.manual_seed(0)
    return ClipBackbone(ClipConfig("gad-tiny-vit", None, [1, 3]))


def test_tapped_layers_are_one_based_block_outputs_without_cls(tiny: ClipBackbone) -> None:
    images = torch.rand(2, 3, 112, 112)
    captured: dict[int, torch.Tensor] = {}
    hooks = [
        tiny.model.visual.transformer.resblocks[i].register_forward_hook(
            lambda m, a, out, i=i: captured.__setitem__(i, out)
        )
        for i in range(4)
    ]
    try:
        features = tiny(images)
    finally:
        for hook in hooks:
            hook.remove()
    assert len(features.patch_tokens) == 2
    torch.testing.assert_close(features.patch_tokens[0], captured[0][:, 1:])
    torch.testing.assert_close(features.patch_tokens[1], captured[2][:, 1:])


def test_shapes_grid_and_embedding(tiny: ClipBackbone) -> None:
    features = tiny(torch.rand(3, 3, 112, 112), embedding=True)
    assert features.grid == (14, 14)
    assert [t.shape for t in features.patch_tokens] == [torch.Size([3, 196, 64])] * 2
    assert features.embedding is not None and features.embedding.shape == (3, tiny.embed_dim)
    torch.testing.assert_close(features.embedding.norm(dim=-1), torch.ones(3))
    assert tiny(torch.rand(1, 3, 112, 112)).embedding is None


def test_frozen_eval_and_no_graph(tiny: ClipBackbone) -> None:
    tiny.train()
    assert not tiny.training and not tiny.model.training
    assert not any(p.requires_grad for p in tiny.parameters())
    with torch.enable_grad():
        out = tiny(torch.rand(1, 3, 112, 112, requires_grad=True), embedding=True)
    assert not out.patch_tokens[0].requires_grad and not out.embedding.requires_grad


def test_normalisation_is_inside(tiny: ClipBackbone) -> None:
    """Inputs are [0, 1] images: the backbone applies its own mean/std, so callers never do."""
    images = torch.rand(1, 3, 112, 112)
    normalised = (images - tiny.mean) / tiny.std
    expected = tiny.model.visual.forward_intermediates(normalised, indices=[0], intermediates_only=True)
    torch.testing.assert_close(
        tiny(images).patch_tokens[0], expected["image_intermediates"][0].flatten(2).transpose(1, 2)
    )


def test_image_size_override_resizes_grid() -> None:
    backbone = ClipBackbone(ClipConfig("gad-tiny-vit", None, [2], image_size=224))
    assert backbone.image_size == 224 and backbone.grid == (28, 28)
    assert backbone(torch.rand(1, 3, 224, 224)).patch_tokens[0].shape == (1, 784, 64)


def test_text_embeddings_are_normalised(tiny: ClipBackbone) -> None:
    text = tiny.encode_text(["a photo of a brick.", "a photo of a damaged brick."])
    assert text.shape == (2, tiny.embed_dim)
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(2))
    assert not torch.allclose(text[0], text[1])


def test_local_checkpoint_file_is_loaded(tmp_path, tiny: ClipBackbone) -> None:
    path = tmp_path / "tiny.bin"
    torch.save(tiny.model.state_dict(), path)
    loaded = ClipBackbone(ClipConfig("gad-tiny-vit", str(path), [1, 3]))
    assert loaded.is_pretrained and "file" in loaded.pretrained
    images = torch.rand(1, 3, 112, 112)
    torch.testing.assert_close(loaded(images).patch_tokens[1], tiny(images).patch_tokens[1])


def test_quick_gelu_follows_weights_and_can_be_forced() -> None:
    assert ClipBackbone(ClipConfig("gad-tiny-vit", None, [1])).quick_gelu is False
    forced = ClipBackbone(ClipConfig("gad-tiny-vit", None, [1], quick_gelu=True))
    assert forced.quick_gelu is True
    assert type(forced.model.visual.transformer.resblocks[0].mlp.gelu).__name__ == "QuickGELU"
    with pytest.raises(ValueError, match="exact GELU"):
        ClipBackbone(ClipConfig("ViT-B-16-quickgelu", None, [1], quick_gelu=False))


def test_unknown_model_name_suggests_close_names() -> None:
    with pytest.raises(UnknownModelError, match="ViT-L-14-336"):
        ClipBackbone(ClipConfig("ViT-L-14-33", None))


@pytest.mark.parametrize("layers", [[0], [5], [2, 2], []])
def test_bad_layers(layers: list[int]) -> None:
    with pytest.raises(ValueError, match="between 1 and 4"):
        ClipBackbone(ClipConfig("gad-tiny-vit", None, layers))


def test_unknown_tag_lists_known_tags() -> None:
    with pytest.raises(ValueError, match="openai"):
        ClipBackbone(ClipConfig("ViT-L-14-336", "laion2b"))


def test_missing_weights_offline_fail_at_once_with_actionable_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """No download is attempted when offline: the error names the model, the tag, the file and the fix."""
    monkeypatch.setattr(open_clip, "create_model", lambda *a, **k: pytest.fail("tried to build/download"))
    with pytest.raises(WeightsNotFoundError) as info:
        ClipBackbone(ClipConfig("ViT-L-14-336", "openai"))
    message = str(info.value)
    for needed in ("ViT-L-14-336", "'openai'", "timm/vit_large_patch14_clip_336.openai", "pretrained /path/to/weights"):
        assert needed in message


def test_missing_local_file() -> None:
    with pytest.raises(WeightsNotFoundError, match="/nowhere/ViT-L-14-336px.pt"):
        ClipBackbone(ClipConfig("ViT-L-14-336", "/nowhere/ViT-L-14-336px.pt"))


def test_float16_file_loads_at_another_image_size(tmp_path) -> None:
    """OpenAI's files are float16; open_clip would resize their position embedding in float16, which CPU bicubic
    interpolation cannot do. gad resizes a float32 copy (bicubic, antialiased, class position kept)."""
    torch.manual_seed(0)
    source = open_clip.create_model("gad-tiny-vit", pretrained=None)
    weights = {k: v.half() if v.is_floating_point() else v for k, v in source.state_dict().items()}
    path = tmp_path / "half.pt"
    torch.save(weights, path)
    native = ClipBackbone(ClipConfig("gad-tiny-vit", str(path), [1, 3], image_size=112))
    resized = ClipBackbone(ClipConfig("gad-tiny-vit", str(path), [1, 3], image_size=160))
    assert torch.equal(native.model.visual.conv1.weight, weights["visual.conv1.weight"].float())
    position = weights["visual.positional_embedding"].float()  # (1 + 14 * 14, 64)
    grid = position[1:].reshape(1, 14, 14, -1).permute(0, 3, 1, 2)
    expected = torch.nn.functional.interpolate(grid, size=(20, 20), mode="bicubic", antialias=True, align_corners=False)
    got = resized.model.visual.positional_embedding
    assert resized.grid == (20, 20) and got.shape == (401, 64)
    assert torch.equal(got[0], position[0])
    torch.testing.assert_close(got[1:], expected.permute(0, 2, 3, 1).reshape(400, -1), rtol=0, atol=1e-6)
    assert resized(torch.rand(1, 3, 160, 160)).patch_tokens[0].shape == (1, 400, 64)


def test_inline_model_config_is_registered_and_kept_plain() -> None:
    architecture = open_clip.get_model_config("gad-tiny-vit")
    architecture["vision_cfg"]["layers"] = 2
    config = ClipConfig("gad-test-inline-vit", None, [1, 2], model_config=architecture)
    backbone = ClipBackbone(config)
    assert len(backbone.model.visual.transformer.resblocks) == 2
    assert ClipConfig.of(config.as_dict(), ClipConfig) == config  # a checkpoint's dict gives the same config back
    with pytest.raises(ConfigError, match="another model_name"):
        ClipBackbone(ClipConfig("gad-tiny-vit", None, [1], model_config=architecture))
    with pytest.raises(ConfigError, match="not an open_clip model config"):
        ClipBackbone(ClipConfig("gad-test-bad", None, [1], model_config={"vision_cfg": {}}))

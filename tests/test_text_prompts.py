"""Tests for the DictAS/InCTRL text prompt ensembles and their embedding cache (no CLIP needed)."""

from __future__ import annotations

import hashlib

import pytest
import torch
import torch.nn.functional as F

from gad.models.components.text_prompts import PROMPT_SETS, PromptSet, TextPrompts

DIM = 16


class FakeEncoder:
    """Deterministic stand-in for CLIP: a fixed random projection of a hash of each string."""

    def __init__(self) -> None:
        self.calls = 0
        self.projection = torch.randn(32, DIM, generator=torch.Generator().manual_seed(0))

    def embed(self, text: str) -> torch.Tensor:
        digest = hashlib.sha256(text.encode()).digest()
        bits = torch.tensor([float(b) / 255.0 - 0.5 for b in digest])
        return F.normalize(bits @ self.projection, dim=-1)

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        self.calls += 1
        return torch.stack([self.embed(t) for t in texts])


@pytest.mark.parametrize(("name", "n_normal", "n_abnormal"), [("dictas", 245, 175), ("inctrl", 154, 88)])
def test_sentence_counts(name: str, n_normal: int, n_abnormal: int) -> None:
    normal, abnormal = TextPrompts(name).sentences("metal_nut")
    assert (len(normal), len(abnormal)) == (n_normal, n_abnormal)
    assert len(set(normal)) == n_normal and len(set(abnormal)) == n_abnormal


def test_prompt_set_sizes() -> None:
    dictas, inctrl = PROMPT_SETS["dictas"], PROMPT_SETS["inctrl"]
    assert (len(dictas.normal_states), len(dictas.abnormal_states), len(dictas.templates)) == (7, 5, 35)
    assert (len(inctrl.normal_states), len(inctrl.abnormal_states), len(inctrl.templates)) == (7, 4, 22)
    assert "broken {}" in dictas.abnormal_states and "broken {}" not in inctrl.abnormal_states
    assert isinstance(dictas, PromptSet) and dictas.semantic_classes == frozenset()


def test_dictas_backslash_quirk_kept() -> None:
    quirk = "a jpeg \\ photo of the {}."
    assert len(quirk) == len("a jpeg  photo of the {}.") + 1  # exactly one literal backslash
    assert quirk in PROMPT_SETS["dictas"].templates
    normal, abnormal = TextPrompts("dictas").sentences("pcb1")
    assert "a jpeg \\ photo of the flawless pcb1." in normal
    assert "a jpeg \\ photo of the pcb1 with defect." in abnormal


def test_dictas_keeps_underscores() -> None:
    prompts = TextPrompts("dictas")
    assert prompts.class_words("pipe_fryum") == "pipe_fryum"
    normal, abnormal = prompts.sentences("pipe_fryum")
    assert "a photo of the pipe_fryum." in normal
    assert "a photo of a damaged pipe_fryum." in abnormal


def test_inctrl_replaces_underscores() -> None:
    prompts = TextPrompts("inctrl")
    assert prompts.class_words("pipe_fryum") == "pipe fryum"
    normal, abnormal = prompts.sentences("pipe_fryum")
    assert "a photo of a pipe fryum for visual inspection." in normal
    assert "a photo of the pipe fryum with damage for anomaly detection." in abnormal
    assert not any("_" in s for s in normal + abnormal)


@pytest.mark.parametrize("name", ["dictas", "inctrl"])
def test_class_name_mapping_overrides(name: str) -> None:
    prompts = TextPrompts(name, class_names={"pcb1": "printed circuit board", "metal_nut": "metal_nut_x"})
    assert prompts.class_words("pcb1") == "printed circuit board"
    assert prompts.class_words("metal_nut") == "metal_nut_x"  # used verbatim, no underscore rule
    assert "a photo of a printed circuit board." in prompts.sentences("pcb1")[0]
    # Categories missing from the mapping fall back to the set's rule.
    assert prompts.class_words("pipe_fryum") == ("pipe fryum" if name == "inctrl" else "pipe_fryum")


def test_inctrl_semantic_classes_use_single_pair() -> None:
    prompts = TextPrompts("inctrl")
    assert prompts.sentences("cat") == (
        ["a photo of cat for anomaly detection."],
        ["a photo without cat for anomaly detection."],
    )
    assert len(prompts.sentences("animal")[0]) == 1
    # The test is an exact match on the final class words: "cat_food" -> "cat food" is an object.
    normal, abnormal = prompts.sentences("cat_food")
    assert (len(normal), len(abnormal)) == (154, 88)
    # A mapping onto a semantic word triggers the special case, since the test uses the final words.
    mapped = TextPrompts("inctrl", class_names={"cifar_3": "cat"})
    assert mapped.sentences("cifar_3") == prompts.sentences("cat")


def test_dictas_has_no_semantic_special_case() -> None:
    normal, abnormal = TextPrompts("dictas").sentences("cat")
    assert (len(normal), len(abnormal)) == (245, 175)


@pytest.mark.parametrize("name", ["dictas", "inctrl"])
def test_embeddings_are_normalised_group_means(name: str) -> None:
    encoder = FakeEncoder()
    prompts = TextPrompts(name)
    emb = prompts.embeddings(encoder, "metal_nut")
    assert emb.shape == (2, DIM)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(2))
    normal, abnormal = prompts.sentences("metal_nut")
    for row, group in ((0, normal), (1, abnormal)):
        expected = torch.stack([encoder.embed(s) for s in group]).mean(dim=0)
        torch.testing.assert_close(emb[row], expected / expected.norm())
    assert not emb.requires_grad


def test_embeddings_cached_per_category_and_encoder() -> None:
    encoder = FakeEncoder()
    prompts = TextPrompts("dictas")
    first = prompts.embeddings(encoder, "bottle")
    for _ in range(5):
        assert prompts.embeddings(encoder, "bottle") is first
    assert encoder.calls == 1
    other = prompts.embeddings(encoder, "screw")
    assert encoder.calls == 2
    assert not torch.allclose(first, other)

    second_encoder = FakeEncoder()
    prompts.embeddings(second_encoder, "bottle")
    assert (encoder.calls, second_encoder.calls) == (2, 1)

    prompts.clear_cache()
    prompts.embeddings(encoder, "bottle")
    assert encoder.calls == 3


def test_embeddings_from_inference_mode_usable_with_autograd() -> None:
    prompts = TextPrompts("inctrl")
    encoder = FakeEncoder()
    with torch.inference_mode():
        emb = prompts.embeddings(encoder, "bottle")
    assert not emb.is_inference()
    image_features = torch.randn(3, DIM, requires_grad=True)
    (image_features @ prompts.embeddings(encoder, "bottle").T).sum().backward()
    assert image_features.grad is not None and encoder.calls == 1


def test_unknown_prompt_set_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="dictas.*inctrl"):
        TextPrompts("winclip")  # type: ignore[arg-type]

"""Normal/abnormal text prompt ensembles of DictAS and InCTRL, and their cached CLIP embeddings.

Both methods score an image against two text vectors per category: the mean embedding of many
"normal" sentences and of many "abnormal" sentences (WinCLIP-style state x template ensembles).
The two official implementations use different word lists and class-name handling; both are
transcribed here verbatim because any change to a string changes the embedding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import torch
import torch.nn.functional as F

PromptSetName = Literal["dictas", "inctrl"]


class TextEncoder(Protocol):
    """Anything that turns sentences into text embeddings (the real one is the CLIP backbone)."""

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """Return an (N, D) float tensor of L2-normalised embeddings, one row per text."""


@dataclass(frozen=True)
class PromptSet:
    """One method's prompt vocabulary: state phrases are filled with the class words, then templates."""

    name: str
    normal_states: tuple[str, ...]
    abnormal_states: tuple[str, ...]
    templates: tuple[str, ...]
    underscores_to_spaces: bool
    semantic_classes: frozenset[str]

    def sentences(self, class_words: str) -> tuple[list[str], list[str]]:
        """Return (normal, abnormal) sentences for the given class words.

        Semantic (CIFAR-style) classes get InCTRL's single presence/absence pair instead of the
        defect vocabulary. The membership test is an exact, case-sensitive match on the final class
        words, as in InCTRL: a compound such as "cat food" is an industrial-style object, not the
        semantic class "cat", so it gets the full ensemble.
        """
        if class_words in self.semantic_classes:
            return (
                [f"a photo of {class_words} for anomaly detection."],
                [f"a photo without {class_words} for anomaly detection."],
            )
        return self._expand(self.normal_states, class_words), self._expand(self.abnormal_states, class_words)

    def _expand(self, states: tuple[str, ...], class_words: str) -> list[str]:
        return [template.format(state.format(class_words)) for state in states for template in self.templates]


_NORMAL_STATES = (
    "{}",
    "flawless {}",
    "perfect {}",
    "unblemished {}",
    "{} without flaw",
    "{} without defect",
    "{} without damage",
)

DICTAS_PROMPTS = PromptSet(
    name="dictas",
    normal_states=_NORMAL_STATES,
    abnormal_states=(
        "damaged {}",
        "broken {}",
        "{} with flaw",
        "{} with defect",
        "{} with damage",
    ),
    templates=(
        "a bad photo of a {}.",
        "a low resolution photo of the {}.",
        "a bad photo of the {}.",
        "a cropped photo of the {}.",
        "a bright photo of a {}.",
        "a dark photo of the {}.",
        "a photo of my {}.",
        "a photo of the cool {}.",
        "a close-up photo of a {}.",
        "a black and white photo of the {}.",
        "a bright photo of the {}.",
        "a cropped photo of a {}.",
        "a jpeg corrupted photo of a {}.",
        "a blurry photo of the {}.",
        "a photo of the {}.",
        "a good photo of the {}.",
        "a photo of one {}.",
        "a close-up photo of the {}.",
        "a photo of a {}.",
        "a low resolution photo of a {}.",
        "a photo of a large {}.",
        "a blurry photo of a {}.",
        # Quirk of the official DictAS list: a literal backslash (the sentence really contains
        # "jpeg \ photo"). It is kept because it is part of what the released weights were
        # trained against; "fixing" it changes the averaged text embedding.
        "a jpeg \\ photo of the {}.",
        "a good photo of a {}.",
        "a photo of the small {}.",
        "a photo of the large {}.",
        "a black and white photo of a {}.",
        "a dark photo of a {}.",
        "a photo of a cool {}.",
        "a photo of a small {}.",
        "there is a {} in the scene.",
        "there is the {} in the scene.",
        "this is a {} in the scene.",
        "this is the {} in the scene.",
        "this is one {} in the scene.",
    ),
    underscores_to_spaces=False,
    semantic_classes=frozenset(),
)

INCTRL_PROMPTS = PromptSet(
    name="inctrl",
    normal_states=_NORMAL_STATES,
    # InCTRL has no "broken {}".
    abnormal_states=(
        "damaged {}",
        "{} with flaw",
        "{} with defect",
        "{} with damage",
    ),
    templates=(
        "a cropped photo of the {}.",
        "a cropped photo of a {}.",
        "a close-up photo of a {}.",
        "a close-up photo of the {}.",
        "a bright photo of a {}.",
        "a bright photo of the {}.",
        "a dark photo of a {}.",
        "a dark photo of the {}.",
        "a jpeg corrupted photo of a {}.",
        "a jpeg corrupted photo of the {}.",
        "a blurry photo of the {}.",
        "a blurry photo of a {}.",
        "a photo of the {}.",
        "a photo of a {}.",
        "a photo of a small {}.",
        "a photo of the small {}.",
        "a photo of a large {}.",
        "a photo of the large {}.",
        "a photo of a {} for visual inspection.",
        "a photo of the {} for visual inspection.",
        "a photo of a {} for anomaly detection.",
        "a photo of the {} for anomaly detection.",
    ),
    underscores_to_spaces=True,
    # CIFAR-10 classes plus "animal", for InCTRL's one-class semantic protocol.
    semantic_classes=frozenset(
        {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck", "animal"}
    ),
)

PROMPT_SETS: dict[str, PromptSet] = {p.name: p for p in (DICTAS_PROMPTS, INCTRL_PROMPTS)}


class TextPrompts:
    """Normal/abnormal text embeddings per category, encoded once and cached.

    The cache is keyed by ``(id(encoder), category)``: the text tower is frozen, so one encoding per
    category is enough for the whole run (InCTRL re-encodes on every forward pass; the result is the
    same). A cached tensor stays on the device/dtype the encoder produced it on; callers move it.
    Call :meth:`clear_cache` if an encoder is replaced by a new object that could reuse a freed id.
    """

    def __init__(
        self, prompt_set: PromptSetName | PromptSet = "dictas", class_names: dict[str, str] | None = None
    ) -> None:
        """``prompt_set``: a name of ``PROMPT_SETS``, or a method's own ``PromptSet`` (declared in its folder)."""
        if isinstance(prompt_set, str) and prompt_set not in PROMPT_SETS:
            raise ValueError(f"Unknown prompt set {prompt_set!r}; valid names: {sorted(PROMPT_SETS)}")
        self.prompt_set = PROMPT_SETS[prompt_set] if isinstance(prompt_set, str) else prompt_set
        self.class_names = dict(class_names or {})
        self._cache: dict[tuple[int, str], torch.Tensor] = {}

    def class_words(self, category: str) -> str:
        """Words that replace ``{}`` for a category: the user mapping wins, else the set's own rule."""
        if category in self.class_names:
            return self.class_names[category]
        return category.replace("_", " ") if self.prompt_set.underscores_to_spaces else category

    def sentences(self, category: str) -> tuple[list[str], list[str]]:
        """(normal, abnormal) sentences for a category."""
        return self.prompt_set.sentences(self.class_words(category))

    def embeddings(self, encoder: TextEncoder, category: str) -> torch.Tensor:
        """(2, D) text embeddings, row 0 normal and row 1 abnormal, each a unit vector.

        Each row is the L2-normalised mean of the group's sentence embeddings. Both groups go to the
        encoder in a single call, so it is called once per (encoder, category).
        """
        key = (id(encoder), category)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        normal, abnormal = self.sentences(category)
        # inference_mode(False): a cache first filled during validation/test (Lightning runs those
        # under inference mode) must still be usable next to autograd tensors in training.
        with torch.inference_mode(False), torch.no_grad():
            features = encoder.encode_text(normal + abnormal)
            groups = (features[: len(normal)], features[len(normal) :])
            result = F.normalize(torch.stack([g.mean(dim=0) for g in groups]), dim=-1)
        self._cache[key] = result
        return result

    def clear_cache(self) -> None:
        """Forget all cached embeddings (e.g. after swapping the text encoder)."""
        self._cache.clear()

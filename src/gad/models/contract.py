"""What a method promises the rest of gad: how it sees images, how it trains, how many references it needs, its
prompts. The datamodule, the Detector and the CLI read it instead of pairing a model with its data by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jsonargparse.typing import import_object

from gad.data.dataset import TrainingPipeline
from gad.data.preprocessing import Preprocessing
from gad.errors import ConfigError


@dataclass(frozen=True)
class MethodContract:
    """One method's contract, kept in every checkpoint (``checkpoint["gad"]["contract"]``) as a plain dict.

    Args:
        preprocessing: how images become the model input (size from the backbone).
        train_pipeline: class path of the training pipeline the method trains with; ``None``: it does not train.
        min_shots: the fewest normal references per category it can score with (0: zero-shot).
        prompts: name of its text-prompt set (``gad.models.components.text_prompts``); ``None``: no text.
    """

    preprocessing: Preprocessing
    train_pipeline: str | None = None
    min_shots: int = 1
    prompts: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain types only (checkpoints load with ``weights_only=True``)."""
        return {
            "preprocessing": self.preprocessing.as_dict(),
            "train_pipeline": self.train_pipeline,
            "min_shots": self.min_shots,
            "prompts": self.prompts,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MethodContract:
        return cls(**{**values, "preprocessing": Preprocessing.from_dict(values["preprocessing"])})

    def check_shots(self, shots: int, method: str) -> None:
        """K below ``min_shots`` is one error naming ``--shots`` and the method."""
        if shots < self.min_shots:
            raise ConfigError(
                f"--shots {shots}: {method} needs at least {self.min_shots} normal reference image(s) per category "
                f"(data.shots >= {self.min_shots})."
            )

    def training_pipeline(self, configured: TrainingPipeline | None, method: str) -> TrainingPipeline | None:
        """The pipeline a fit trains with: the configured one if it is the method's kind (its settings win), else
        the method's default; another kind is refused in one line naming both."""
        if self.train_pipeline is None:
            if configured is not None:
                raise ConfigError(
                    f"data.train_pipeline is a {_name(configured)} but {method} does not train: remove "
                    "data.train_pipeline."
                )
            return None
        expected = import_object(self.train_pipeline)
        if configured is None:
            return expected()
        if not isinstance(configured, expected):
            raise ConfigError(
                f"data.train_pipeline is a {_name(configured)} but {method} trains with {self.train_pipeline}: "
                "remove data.train_pipeline (the method's default is used) or configure its own kind."
            )
        return configured


def _name(pipeline: TrainingPipeline) -> str:
    cls = type(pipeline)
    return f"{cls.__module__}.{cls.__qualname__}"

"""The few-shot protocol as a LightningDataModule: train on auxiliary data, judge target categories from K normals."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pandas as pd
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from gad.data.batch import collate_batch
from gad.data.dataset import AnomalyDataset, PipelineDataset, TrainingPipeline
from gad.data.images import read_rgb
from gad.data.preprocessing import Preprocessing
from gad.data.prompt_files import ModelInput, load_prompts
from gad.data.reference_formats import load_references
from gad.data.reference_provider import EvalStage, EvaluationReferences, LazyImages, stack_images
from gad.data.references import ReferenceSet, draw_references, write_manifest
from gad.data.resumable import ResumableLoader
from gad.data.sources import SampleSource
from gad.data.synthetic_validation import SyntheticValidation, validation_source
from gad.errors import ConfigError

__all__ = ["EvalStage", "FewShotDataModule"]


class FewShotDataModule(pl.LightningDataModule):
    """Auxiliary training data, a validation set and one or more target sets, with K normal references per category.

    It follows the model's contract (``follow``, called from ``FewShotAnomalyModule.setup`` before any dataloader
    is built): images are preprocessed as the model says and it trains with the model's pipeline, so data and model
    can never disagree on the input size, resize rule or training items. It serves the references
    (``gad.data.reference_provider.ReferenceProvider``).

    Args:
        auxiliary: the training set (its normal training images; methods that need labels read them too). Only
            ``fit`` (and ``validate`` without ``validation``) needs it, so a config with only targets can test a
            checkpoint.
        target: the set(s) that ``test`` and ``predict`` evaluate (categories unseen in training); a list makes a
            target suite, reported per dataset and per category. Each needs a distinct ``name``. Required.
        validation: the set validated during ``fit`` and by ``validate``; default the auxiliary test split,
            so model selection never looks at the target. An auxiliary set without test split (normal images
            only) is validated on a synthetic proxy instead (``gad.data.synthetic_validation``).
        shots: K, normal reference images per category (``gad test --shots K``); 0 (zero-shot) for methods that
            allow it.
        seed: which draw of references (deterministic per seed, dataset, category and K).
        references: references to use instead of drawing for the target, or a mapping from target dataset name
            to them: a gad manifest (``.json``/``.txt``, or a folder of ``k{K}`` lists), a DictAS
            ``fix_few_path/<dataset>`` folder or ``fix_{K}-shot.txt``, or an InCTRL ``fs_samples/<dataset>/<K>``
            folder of ``<category>.pt`` prompt files (see ``gad.data.reference_formats``).
        batch_size: training batch size.
        eval_batch_size: validation/test/predict batch size (default ``batch_size``).
        num_workers: data-loading processes.
        train_pipeline: settings of the method's training pipeline (e.g. ``DictASTrainingPipeline`` with DTD
            textures); default the method's own with its defaults. Another kind than the method's is refused.
        validation_holdout: for the synthetic proxy, the share of each category's normal images held out from
            training (seeded by ``seed``).
    """

    def __init__(
        self,
        auxiliary: SampleSource | None = None,
        target: SampleSource | list[SampleSource] | None = None,
        validation: SampleSource | None = None,
        shots: int = 4,
        seed: int = 0,
        references: str | dict[str, str] | None = None,
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        train_pipeline: TrainingPipeline | None = None,
        validation_holdout: float = 0.2,
    ) -> None:
        super().__init__()
        if shots < 0:  # the method's minimum is checked by ``follow``, before training starts
            raise ConfigError(f"data.shots (--shots) must be 0 or more normal references per category, got {shots}")
        if target is None:
            raise ConfigError(
                "data.target is missing: give the set (or list of sets) to test, e.g. -c configs/targets/mvtec.yaml"
            )
        self._auxiliary = auxiliary
        self.targets = list(target) if isinstance(target, list) else [target]
        self._validation = validation
        self.shots = shots
        self.seed = seed
        self.references = _manifests_by_name(references, self.targets)
        self.preprocessing: Preprocessing | None = None
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.train_pipeline = train_pipeline
        self.validation_holdout = validation_holdout
        self._reference_sets: dict[tuple[str, str], ReferenceSet] = {}
        self._train_loader: ResumableLoader | None = None
        self._resume: dict[str, Any] | None = None

    def follow(self, preprocessing: Preprocessing, train_pipeline: TrainingPipeline | None) -> None:
        """Take the model's preprocessing and training pipeline (``MethodContract.training_pipeline`` has
        resolved the configured one against the method's)."""
        self.preprocessing = preprocessing
        self.train_pipeline = train_pipeline

    def model_preprocessing(self) -> Preprocessing:
        """The model's preprocessing; an error before the model has handed it over."""
        if self.preprocessing is None:
            raise ConfigError(
                "FewShotDataModule has no preprocessing yet: the model sets it when a Trainer sets it up; outside a "
                "Trainer set datamodule.preprocessing = model.preprocessing first."
            )
        return self.preprocessing

    def prepare_data(self) -> None:
        sources = [s for s in (self._auxiliary, self._validation, *self.targets) if s is not None]
        for source in {id(s): s for s in sources}.values():
            source.prepare()

    @property
    def auxiliary(self) -> SampleSource:
        """The training set; an error when the config has none (a data-only test config used for training)."""
        if self._auxiliary is None:
            raise ConfigError(
                "data.auxiliary is missing: fit trains on it (and validates on it unless data.validation is set); "
                "test/predict need only data.target."
            )
        return self._auxiliary

    @property
    def validation(self) -> SampleSource:
        """The set validated: the configured one, else the auxiliary set, or its synthetic proxy if it has no
        test split (decided once, on first use)."""
        if self._validation is None:
            self._validation = validation_source(
                self.auxiliary, self.train_pipeline, self.validation_holdout, self.seed
            )
        return self._validation

    def sources(self, stage: EvalStage) -> list[SampleSource]:
        """The evaluation sets of a stage, in dataloader order."""
        return [self.validation] if stage == "validate" else self.targets

    def train_samples(self) -> pd.DataFrame:
        """Normal training images of the auxiliary set (less those a synthetic validation holds out), or all its
        labelled images for pipelines that want them (then its test split is needed)."""
        if self.train_pipeline is not None and self.train_pipeline.uses_anomalous_images:
            return self.auxiliary.samples()
        samples = self.auxiliary.samples(need_test=False)
        train = samples[samples["split"] == "train"]
        return self.validation.without_held_out(train) if isinstance(self.validation, SyntheticValidation) else train

    def eval_samples(self, stage: EvalStage, index: int = 0) -> pd.DataFrame:
        samples = self.sources(stage)[index].samples()
        return samples[samples["split"] == "test"]

    def train_dataloader(self) -> DataLoader:
        samples = self.train_samples()
        options: dict[str, Any] = {"batch_size": self.batch_size, "shuffle": True}
        if self.train_pipeline is None:
            dataset = AnomalyDataset(samples, self.model_preprocessing(), with_masks=False)
        else:
            dataset = PipelineDataset(samples, self.model_preprocessing(), self.train_pipeline)
            batch_sampler = self.train_pipeline.batch_sampler(self.batch_size)
            if batch_sampler is not None:
                options = {"batch_sampler": batch_sampler}
        loader = ResumableLoader(
            dataset,
            num_workers=self.num_workers,
            collate_fn=collate_batch,
            persistent_workers=self.num_workers > 0,
            **options,
        )
        loader.resume, self._resume = self._resume, None
        self._train_loader = loader
        return loader

    def state_dict(self) -> dict[str, Any]:
        """Where the training data stood (see ``gad.data.resumable``), so that a resumed fit is exact."""
        if self._train_loader is None or self.trainer is None:
            return {}
        trained = self.trainer.fit_loop.epoch_loop.batch_progress.current.processed
        state = self._train_loader.resume_state(trained, self.trainer.num_training_batches)
        return {"train_loader": state} if state else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._resume = state_dict.get("train_loader")
        if self._resume is not None:  # Lightning cannot tell that this loader resumes part-way: it does
            warnings.filterwarnings("ignore", "You're resuming from a checkpoint that ended before the epoch ended")

    def val_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders("validate")

    def test_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders("test")

    def predict_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders("predict")

    def reference_set(self, stage: EvalStage, index: int = 0) -> ReferenceSet:
        """The K references per category of one evaluation set (drawn or read once)."""
        source = self.sources(stage)[index]
        key = (stage if stage == "validate" else "target", source.name)
        if key not in self._reference_sets:
            samples = source.samples()
            manifest = self.references.get(source.name) if stage != "validate" else None
            if manifest:
                chosen = load_references(manifest, samples, source.name, source.root, self.shots)
            else:
                chosen = draw_references(samples, source.name, source.root, self.shots, self.seed)
            self._reference_sets[key] = chosen
        return self._reference_sets[key]

    def evaluated_datasets(self, stage: EvalStage) -> list[str]:
        return [source.name for source in self.sources(stage)]

    def reference_sets(
        self, stage: EvalStage, dataset_index: int, model_input: ModelInput
    ) -> list[EvaluationReferences]:
        """The one (K, seed) set of a dataset; its pixels are read when the model asks for them."""
        chosen = self.reference_set(stage, dataset_index)
        images = LazyImages(list(chosen.references), lambda category: self._images(chosen, category, model_input))
        return [EvaluationReferences(chosen.dataset, chosen.shots, chosen.seed, images, manifest=chosen)]

    def reference_images(
        self, stage: EvalStage, index: int = 0, model_input: ModelInput | None = None
    ) -> dict[str, Tensor]:
        """(K, 3, H, W) reference tensors per category, preprocessed like the queries; prompt files' tensors are
        the input of the model (``model_input``, default the preprocessing size and CLIP's normalisation)."""
        model_input = model_input or ModelInput(self.model_preprocessing().image_size)
        return dict(self.reference_sets(stage, index, model_input)[0].images)

    def _images(self, chosen: ReferenceSet, category: str, model_input: ModelInput) -> Tensor:
        if category in chosen.prompt_files:
            return load_prompts(chosen.prompt_files[category], model_input, chosen.shots)
        return stack_images([read_rgb(path) for path in chosen.paths(category)], self.model_preprocessing())

    def save_references(self, stage: EvalStage, folder: str | Path, index: int = 0) -> Path | None:
        """Write the manifest of a set into ``folder``; ``None`` if an identical one is already there."""
        return write_manifest(self.reference_set(stage, index), folder)

    def _eval_loaders(self, stage: EvalStage) -> list[DataLoader]:
        loaders = []
        for i, source in enumerate(self.sources(stage)):
            dataset: Dataset = AnomalyDataset(
                self.eval_samples(stage, i), self.model_preprocessing(), with_masks=source.has_masks
            )
            if isinstance(source, SyntheticValidation):
                dataset = source.dataset(dataset)
            loaders.append(self._loader(dataset, self.eval_batch_size, shuffle=False))
        return loaders

    def _loader(self, dataset: Dataset, batch_size: int, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=collate_batch,
            persistent_workers=self.num_workers > 0,
        )


def _manifests_by_name(references: str | dict[str, str] | None, targets: list[SampleSource]) -> dict[str, str]:
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise ConfigError(f"Target datasets need distinct names (got {names}): set `name` on each target.")
    if references is None:
        return {}
    if isinstance(references, dict):
        unknown = sorted(set(references) - set(names))
        if unknown:
            raise ConfigError(f"data.references names {unknown}, which are not targets ({names}).")
        return dict(references)
    if len(targets) > 1:
        raise ConfigError(
            f"data.references is one manifest but there are {len(names)} targets: map names to manifests."
        )
    return {names[0]: references}

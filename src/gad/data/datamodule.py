"""The few-shot protocol as a LightningDataModule: train on auxiliary data, judge target categories from K normals."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from gad.data.batch import collate_batch
from gad.data.dataset import AnomalyDataset, PipelineDataset, TrainingPipeline
from gad.data.references import ReferenceSet, draw_references, load_references
from gad.data.resumable import ResumableLoader
from gad.data.sources import SampleSource
from gad.errors import ConfigError

EvalStage = Literal["validate", "test", "predict"]


class FewShotDataModule(pl.LightningDataModule):
    """Auxiliary training data, a validation set and one or more target sets, with K normal references per category.

    Args:
        auxiliary: the training set (its normal training images; methods that need labels read them too).
        target: the set(s) that ``test`` and ``predict`` evaluate (categories unseen in training); a list makes a
            target suite, reported per dataset and per category. Each needs a distinct ``name``.
        validation: the set validated during ``fit`` and by ``validate``; default the auxiliary test split,
            so model selection never looks at the target.
        shots: K, normal reference images per category (``gad test --shots K``).
        seed: which draw of references (deterministic per seed, dataset, category and K).
        references: a manifest (file or folder of per-K lists) to use instead of drawing for the target, or a
            mapping from target dataset name to its manifest.
        image_size: side of the square model input; must match the model's backbone.
        center_crop: resize the shorter side to ``image_size`` and crop the centre (open_clip's preprocessing,
            InCTRL) instead of squashing the whole image to the square (DictAS); masks follow their images.
        batch_size: training batch size.
        eval_batch_size: validation/test/predict batch size (default ``batch_size``).
        num_workers: data-loading processes.
        train_pipeline: how the method builds training items (e.g. DictAS: synthetic anomalies and an augmented
            support); default plain normal images.
    """

    def __init__(
        self,
        auxiliary: SampleSource,
        target: SampleSource | list[SampleSource],
        validation: SampleSource | None = None,
        shots: int = 4,
        seed: int = 0,
        references: str | dict[str, str] | None = None,
        image_size: int = 336,
        center_crop: bool = False,
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        train_pipeline: TrainingPipeline | None = None,
    ) -> None:
        super().__init__()
        self.auxiliary = auxiliary
        self.targets = list(target) if isinstance(target, list) else [target]
        self.validation = validation or auxiliary
        self.shots = shots
        self.seed = seed
        self.references = _manifests_by_name(references, self.targets)
        self.image_size = image_size
        self.center_crop = center_crop
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.train_pipeline = train_pipeline
        self._reference_sets: dict[tuple[str, str], ReferenceSet] = {}
        self._train_loader: ResumableLoader | None = None
        self._resume: dict[str, Any] | None = None

    def prepare_data(self) -> None:
        for source in {id(s): s for s in (self.auxiliary, self.validation, *self.targets)}.values():
            source.prepare()

    def sources(self, stage: EvalStage) -> list[SampleSource]:
        """The evaluation sets of a stage, in dataloader order."""
        return [self.validation] if stage == "validate" else self.targets

    def train_samples(self) -> pd.DataFrame:
        """Normal training images of the auxiliary set, or all its labelled images for pipelines that want them."""
        samples = self.auxiliary.samples()
        if self.train_pipeline is not None and self.train_pipeline.uses_anomalous_images:
            return samples
        return samples[samples["split"] == "train"]

    def eval_samples(self, stage: EvalStage, index: int = 0) -> pd.DataFrame:
        samples = self.sources(stage)[index].samples()
        return samples[samples["split"] == "test"]

    def train_dataloader(self) -> DataLoader:
        samples = self.train_samples()
        options: dict[str, Any] = {"batch_size": self.batch_size, "shuffle": True}
        if self.train_pipeline is None:
            dataset = AnomalyDataset(samples, self.image_size, with_masks=False, center_crop=self.center_crop)
        else:
            dataset = PipelineDataset(samples, self.image_size, self.train_pipeline, self.center_crop)
            batch_sampler = self.train_pipeline.batch_sampler(self.batch_size)
            if batch_sampler is not None:
                options = {"batch_sampler": batch_sampler}
        loader = ResumableLoader(dataset, num_workers=self.num_workers, collate_fn=collate_batch,
                                 persistent_workers=self.num_workers > 0, **options)
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

    def reference_images(self, stage: EvalStage, index: int = 0) -> dict[str, Tensor]:
        """(K, 3, H, W) reference tensors per category, preprocessed like the queries."""
        chosen = self.reference_set(stage, index)
        images: dict[str, Tensor] = {}
        for category in chosen.references:
            rows = pd.DataFrame(
                {"path": [str(p) for p in chosen.paths(category)], "category": category, "label": 0,
                 "defect": "good", "mask_path": None}
            )
            dataset = AnomalyDataset(rows, self.image_size, with_masks=False, center_crop=self.center_crop)
            images[category] = torch.stack([dataset[i]["image"] for i in range(len(dataset))])
        return images

    def save_references(self, stage: EvalStage, folder: str | Path, index: int = 0) -> Path:
        chosen = self.reference_set(stage, index)
        draw = f"seed{chosen.seed}" if chosen.seed is not None else "manifest"
        return chosen.save(Path(folder) / f"references_{chosen.dataset}_k{chosen.shots}_{draw}.json")

    def _eval_loaders(self, stage: EvalStage) -> list[DataLoader]:
        return [
            self._loader(
                AnomalyDataset(
                    self.eval_samples(stage, i), self.image_size, with_masks=source.has_masks,
                    center_crop=self.center_crop,
                ),
                self.eval_batch_size,
                shuffle=False,
            )
            for i, source in enumerate(self.sources(stage))
        ]

    def _loader(self, dataset: AnomalyDataset | PipelineDataset, batch_size: int, shuffle: bool) -> DataLoader:
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
        raise ConfigError(f"data.references is one manifest but there are {len(names)} targets: map names to manifests.")
    return {names[0]: references}

"""The few-shot protocol as a LightningDataModule: train on auxiliary data, judge target categories from K normals."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import lightning.pytorch as pl
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from gad.data.batch import collate_batch
from gad.data.dataset import AnomalyDataset, PipelineDataset, TrainingPipeline
from gad.data.references import ReferenceSet, draw_references, load_references
from gad.data.sources import SampleSource

EvalStage = Literal["validate", "test", "predict"]


class FewShotDataModule(pl.LightningDataModule):
    """Auxiliary training data, a validation set and a target set, with K normal references per category.

    Args:
        auxiliary: the training set (its normal training images; methods that need labels read them too).
        target: the set that ``test`` and ``predict`` evaluate (categories unseen in training).
        validation: the set validated during ``fit`` and by ``validate``; default the auxiliary test split,
            so model selection never looks at the target.
        shots: K, normal reference images per category (``gad test --shots K``).
        seed: which draw of references (deterministic per seed, dataset, category and K).
        references: a manifest (file or folder of per-K lists) to use instead of drawing, for the target set.
        image_size: side of the square model input; must match the model's backbone.
        batch_size: training batch size.
        eval_batch_size: validation/test/predict batch size (default ``batch_size``).
        num_workers: data-loading processes.
        train_pipeline: how the method builds training items (e.g. DictAS: synthetic anomalies and an augmented
            support); default plain normal images.
    """

    def __init__(
        self,
        auxiliary: SampleSource,
        target: SampleSource,
        validation: SampleSource | None = None,
        shots: int = 4,
        seed: int = 0,
        references: str | None = None,
        image_size: int = 336,
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        train_pipeline: TrainingPipeline | None = None,
    ) -> None:
        super().__init__()
        self.auxiliary = auxiliary
        self.target = target
        self.validation = validation or auxiliary
        self.shots = shots
        self.seed = seed
        self.references = references
        self.image_size = image_size
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.train_pipeline = train_pipeline
        self._reference_sets: dict[str, ReferenceSet] = {}

    def prepare_data(self) -> None:
        for source in {id(s): s for s in (self.auxiliary, self.validation, self.target)}.values():
            source.prepare()

    def source(self, stage: EvalStage) -> SampleSource:
        return self.validation if stage == "validate" else self.target

    def train_samples(self) -> pd.DataFrame:
        """Normal training images of the auxiliary set, or all its labelled images for pipelines that want them."""
        samples = self.auxiliary.samples()
        if self.train_pipeline is not None and self.train_pipeline.uses_anomalous_images:
            return samples
        return samples[samples["split"] == "train"]

    def eval_samples(self, stage: EvalStage) -> pd.DataFrame:
        samples = self.source(stage).samples()
        return samples[samples["split"] == "test"]

    def train_dataloader(self) -> DataLoader:
        samples = self.train_samples()
        if self.train_pipeline is None:
            dataset = AnomalyDataset(samples, self.image_size, with_masks=False)
        else:
            dataset = PipelineDataset(samples, self.image_size, self.train_pipeline)
            batch_sampler = self.train_pipeline.batch_sampler(self.batch_size)
            if batch_sampler is not None:
                return DataLoader(
                    dataset, batch_sampler=batch_sampler, num_workers=self.num_workers, collate_fn=collate_batch,
                    persistent_workers=self.num_workers > 0,
                )
        return self._loader(dataset, self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("validate")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._eval_loader("predict")

    def reference_set(self, stage: EvalStage) -> ReferenceSet:
        """The K references per category for the stage's evaluation set (drawn or read once)."""
        source = self.source(stage)
        if source.name not in self._reference_sets:
            samples = source.samples()
            if self.references and source is self.target:
                chosen = load_references(self.references, samples, source.name, source.root, self.shots)
            else:
                chosen = draw_references(samples, source.name, source.root, self.shots, self.seed)
            self._reference_sets[source.name] = chosen
        return self._reference_sets[source.name]

    def reference_images(self, stage: EvalStage) -> dict[str, Tensor]:
        """(K, 3, H, W) reference tensors per category, preprocessed like the queries."""
        chosen = self.reference_set(stage)
        images: dict[str, Tensor] = {}
        for category in chosen.references:
            rows = pd.DataFrame(
                {"path": [str(p) for p in chosen.paths(category)], "category": category, "label": 0,
                 "defect": "good", "mask_path": None}
            )
            dataset = AnomalyDataset(rows, self.image_size, with_masks=False)
            images[category] = torch.stack([dataset[i]["image"] for i in range(len(dataset))])
        return images

    def save_references(self, stage: EvalStage, folder: str | Path) -> Path:
        chosen = self.reference_set(stage)
        return chosen.save(Path(folder) / f"references_{chosen.dataset}_k{chosen.shots}_seed{chosen.seed}.json")

    def _eval_loader(self, stage: EvalStage) -> DataLoader:
        source = self.source(stage)
        dataset = AnomalyDataset(self.eval_samples(stage), self.image_size, with_masks=source.has_masks)
        return self._loader(dataset, self.eval_batch_size, shuffle=False)

    def _loader(self, dataset: AnomalyDataset | PipelineDataset, batch_size: int, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=collate_batch,
            persistent_workers=self.num_workers > 0,
        )

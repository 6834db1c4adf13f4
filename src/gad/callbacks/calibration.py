"""Image and pixel thresholds for a test's predicted masks, from held-out normal images, never from test images.

The held-out normals are the category's normal training images that are not its references (a reference matches
itself and would score unrealistically low); at most ``limit`` of them, in the pool's sorted order.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import DataLoader

from gad.data.batch import collate_batch
from gad.data.datamodule import EvalStage, FewShotDataModule
from gad.data.dataset import AnomalyDataset
from gad.data.references import normal_pool
from gad.inference.threshold import Thresholds, threshold_at_fpr
from gad.models.base import FewShotAnomalyModule


def held_out_normals(datamodule: FewShotDataModule, stage: EvalStage, index: int, limit: int) -> dict[str, list[str]]:
    """Per category of one evaluated dataset: up to ``limit`` normal training images that are not references
    (none for a category whose references are prompt tensors: which images they are is unknown)."""
    chosen = datamodule.reference_set(stage, index)
    samples = datamodule.sources(stage)[index].samples()
    held_out: dict[str, list[str]] = {}
    for category in chosen.references:
        if category in chosen.prompt_files:
            held_out[category] = []
            continue
        references = {p.resolve() for p in chosen.paths(category)}
        pool = [p for p in normal_pool(samples, category) if Path(p).resolve() not in references]
        held_out[category] = pool[:limit]
    return held_out


def calibrate(
    module: FewShotAnomalyModule,
    datamodule: FewShotDataModule,
    stage: EvalStage,
    index: int,
    limit: int,
    image_fpr: float,
    pixel_fpr: float,
) -> dict[str, Thresholds]:
    """Score the held-out normals of each category of dataset ``index`` (the module holds its references) and
    choose the thresholds that flag at most ``image_fpr`` of them and ``pixel_fpr`` of their pixels."""
    thresholds: dict[str, Thresholds] = {}
    for category, paths in held_out_normals(datamodule, stage, index, limit).items():
        if not paths:
            thresholds[category] = Thresholds(None, None, "no held-out normal image: no threshold")
            continue
        rows = pd.DataFrame({"path": paths, "category": category, "label": 0, "defect": "good", "mask_path": None})
        dataset = AnomalyDataset(rows, datamodule.model_preprocessing(), with_masks=False)
        scores, maps = [], []
        for batch in DataLoader(dataset, batch_size=datamodule.eval_batch_size, collate_fn=collate_batch):
            out = module.model(batch.image.to(module.device), category)  # the torch model: no test-time bookkeeping
            scores.append(out.score.float().cpu())
            if out.anomaly_map is not None:
                maps.append(out.anomaly_map.float().cpu())
        image = threshold_at_fpr(torch.cat(scores).numpy(), image_fpr, warn=False)
        pixel = threshold_at_fpr(torch.cat(maps).numpy().ravel(), pixel_fpr, warn=False) if maps else None
        note = ""
        if image.too_few_normals:
            note = (
                f"{image.normals} held-out normal images are too few for an image false-positive rate of "
                f"{image_fpr:g} ({image.needed} needed): the image threshold is their highest score, which new "
                f"normal images exceed about 1 in {image.normals + 1} times."
            )
        thresholds[category] = Thresholds(image, pixel, note)
    return thresholds

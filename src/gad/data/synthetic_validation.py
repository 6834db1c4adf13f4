"""Validation without labelled test data: held-out normal images, half of them with synthetic anomalies.

When the auxiliary set has no test split (normal images only) and no validation set is configured, ``gad fit``
still needs a signal to pick its best checkpoint. This proxy holds out a seeded share of each category's normal
training images (never trained on) and gives half of them an anomaly from the method's own training synthesis
(DictAS: DRAEM/Perlin regions), at the model's input size. The held-out split, which images are anomalous and
every anomaly depend only on the seed and the data, so each epoch (and each run with that seed) validates on
the same images, masks and references.

It measures how well the model finds the kind of anomaly it is trained on, on images of its training categories:
a proxy for model selection, not an estimate of performance on real defects.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pandas as pd
from torch.utils.data import Dataset

from gad.data.dataset import AnomalyDataset, TrainingPipeline
from gad.data.sources.base import SAMPLE_COLUMNS, SampleSource, sample_row
from gad.data.sources.splits import split_normals
from gad.data.synthesis import PerlinAnomalySynthesizer
from gad.messages import say
from gad.errors import ConfigError

__all__ = ["SyntheticAnomalies", "SyntheticValidation", "validation_source"]

SYNTHETIC_DEFECT = "synthetic"


class SyntheticValidation(SampleSource):
    """The proxy validation set of an auxiliary set without test split.

    Its table: the auxiliary's normal training images, of which a share ``holdout`` per category (seeded, at
    least 2) is the ``test`` split; half of those (rounded down, at least 1) are labelled anomalous with defect
    ``synthetic`` and no mask file: ``dataset`` synthesises their anomaly and mask when read. References are drawn
    from the remaining training images, which are also the only ones trained on (``without_held_out``).

    Args:
        auxiliary: the set without test split.
        synthesizer: the method's training synthesis.
        holdout: share of each category's normal images held out.
        seed: seeds the held-out split, the choice of anomalous images and every anomaly.
    """

    def __init__(
        self, auxiliary: SampleSource, synthesizer: PerlinAnomalySynthesizer, holdout: float = 0.2, seed: int = 0
    ) -> None:
        super().__init__(str(auxiliary.root), auxiliary.categories, auxiliary.name)
        if not 0.0 < holdout < 1.0:
            raise ConfigError(f"data.validation_holdout must be in (0, 1), got {holdout}")
        self.auxiliary, self.synthesizer, self.holdout, self.seed = auxiliary, synthesizer, holdout, seed
        self.layout_help = auxiliary.layout_help

    @property
    def has_masks(self) -> bool:
        return True

    def read(self) -> pd.DataFrame:
        table = self.auxiliary.samples(need_test=False)
        rows = []
        for category, group in table[table["split"] == "train"].groupby("category", sort=True):
            keep, held = split_normals(sorted(group["path"]), self.holdout, self.seed)
            if len(held) < 2 or not keep:
                raise ConfigError(
                    f"{self.name}/{category} has {len(group)} normal images: the synthetic validation holds out "
                    f"{len(held)} of them ({self.holdout:.0%}) and needs at least 2 held out and 1 to train on. "
                    "Add images, change data.validation_holdout or configure data.validation."
                )
            rng = np.random.default_rng([self.seed, zlib.crc32(str(category).encode())])
            anomalous = set(rng.permutation(len(held))[: len(held) // 2].tolist())
            rows += [sample_row(p, category, "train", 0, "good", None) for p in keep]
            rows += [
                sample_row(p, category, "test", 1, SYNTHETIC_DEFECT, None)
                if i in anomalous
                else sample_row(p, category, "test", 0, "good", None)
                for i, p in enumerate(sorted(held))
            ]
        return pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))

    def without_held_out(self, rows: pd.DataFrame) -> pd.DataFrame:
        """``rows`` of the auxiliary set less the held-out images (so that validation never sees a trained image)."""
        samples = self.samples()
        held = set(samples.loc[samples["split"] == "test", "path"])
        return rows[~rows["path"].isin(held)]

    def dataset(self, plain: AnomalyDataset) -> SyntheticAnomalies:
        """The evaluation items of ``plain`` (this set's test rows), anomalous ones synthesised."""
        return SyntheticAnomalies(plain, self.synthesizer, self.seed)

    def summary(self) -> str:
        """One line: why and on what the model is validated."""
        test = self.samples()
        test = test[test["split"] == "test"]
        missing = self.auxiliary.missing_test()
        return (
            f"gad: {self.name} has no test split ({next(iter(missing.values()))}"
            f"{f' and {len(missing) - 1} more categories' if len(missing) > 1 else ''}): validating on a proxy, "
            f"{len(test)} held-out normal images ({self.holdout:.0%} per category, seed {self.seed}, not trained "
            f"on), {int(test['label'].sum())} of them with synthetic anomalies of the training synthesis"
        )


class SyntheticAnomalies(Dataset):
    """Items of a plain evaluation dataset; those labelled anomalous get a synthetic anomaly and its mask, drawn
    from a generator seeded by (seed, item index): the same at every read."""

    def __init__(self, plain: AnomalyDataset, synthesizer: PerlinAnomalySynthesizer, seed: int) -> None:
        self.plain, self.synthesizer, self.seed = plain, synthesizer, seed

    def __len__(self) -> int:
        return len(self.plain)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.plain[index]
        if item["label"]:
            rng = np.random.default_rng([self.seed, index])
            item["image"], item["mask"] = self.synthesizer.on_tensor(item["image"], rng)
        return item


def validation_source(
    auxiliary: SampleSource, pipeline: TrainingPipeline | None, holdout: float, seed: int
) -> SampleSource:
    """The auxiliary set when it has a test split; else a ``SyntheticValidation`` with the pipeline's synthesis
    (saying so in one line). Without a synthesis (or for pipelines trained on labelled anomalies), the reader's
    error naming the missing test split."""
    if not auxiliary.missing_test():
        return auxiliary
    synthesizer = None if pipeline is None or pipeline.uses_anomalous_images else pipeline.synthesizer
    if synthesizer is None:
        auxiliary.samples()  # raises: what is missing, and when it is needed
    assert synthesizer is not None  # samples() raised above
    proxy = SyntheticValidation(auxiliary, synthesizer, holdout, seed)
    say(proxy.summary())
    return proxy

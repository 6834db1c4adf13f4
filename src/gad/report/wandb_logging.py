"""The test report in wandb: curve plots, a table of every test image and one of the defect types, panels."""

from __future__ import annotations

import math

from lightning.pytorch import Trainer

from gad.report.writer import ReportFiles
from gad.tracking import wandb_loggers

PANELS_PER_CATEGORY = 8  # the highest-scoring panels of each category, as images (all of them are in report.html)


def log_report(trainer: Trainer, files: ReportFiles) -> None:
    """Nothing without a WandbLogger (wandb is not imported then)."""
    loggers = wandb_loggers(trainer)
    if not loggers:
        return
    import wandb

    images = wandb.Table(columns=["dataset", "category", "defect", "label", "score", "path"])
    panels: dict[str, list] = {}
    for record, panel in files.panels:
        images.add_data(record.dataset, record.category, record.defect, record.label, record.score, record.path)
        key = f"test/report/panels/{record.dataset}/{record.category}"
        if len(panels.setdefault(key, [])) < PANELS_PER_CATEGORY:
            caption = f"{record.category} / {record.defect} score {record.score:.4g}"
            panels[key].append(wandb.Image(str(panel), caption=caption))
    columns = list(files.defect_rows[0]) if files.defect_rows else []
    defects = wandb.Table(
        columns=columns,
        data=[
            [None if isinstance(v, float) and math.isnan(v) else v for v in row.values()] for row in files.defect_rows
        ],
    )
    logged = {"test/report/images": images, "test/report/defects": defects, **panels}
    logged |= {f"test/report/curves/{key}": wandb.Image(str(path)) for key, path in files.curves.items()}
    for logger in loggers:
        logger.experiment.log(logged)

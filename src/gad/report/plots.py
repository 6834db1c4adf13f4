"""ROC and precision-recall curves and the score histogram of one category, as one PNG (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gad.metrics.curves import BinaryCurves, bin_scores, binary_curves, histogram


def image_curves(scores: np.ndarray, labels: np.ndarray) -> BinaryCurves | None:
    """The exact ROC and PR points of image scores (as the image metrics compute them); ``None`` with one class."""
    binning = bin_scores(torch.from_numpy(np.asarray(scores, dtype=np.float32)), None)
    hist = histogram(binning.index, binning.count, torch.from_numpy(np.asarray(labels) > 0))
    assert binning.values is not None
    return binary_curves(hist, binning.values.double().numpy())


def plot_category(
    path: Path,
    title: str,
    scores: np.ndarray,
    labels: np.ndarray,
    curves: BinaryCurves | None,
    threshold: float | None,
) -> Path:
    """``path``: ROC | PR | histogram of normal and anomalous scores, the image threshold marked on each."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, (roc, pr, hist) = plt.subplots(1, 3, figsize=(12, 3.6), dpi=80)
    figure.suptitle(title)
    if curves is None:
        for axis in (roc, pr):
            axis.text(0.5, 0.5, "undefined: one class only", ha="center", va="center")
    else:
        roc.plot(curves.fpr, curves.tpr, drawstyle="default", color="C0")
        roc.plot([0, 1], [0, 1], color="0.7", linestyle=":")
        roc.set_title(f"ROC (AUROC {curves.auroc:.3f})")
        pr.step(curves.recall, curves.precision, where="pre", color="C1")
        pr.axhline(float(np.mean(labels > 0)), color="0.7", linestyle=":")
        pr.set_title(f"precision-recall (AP {curves.ap:.3f})")
        if threshold is not None:
            flagged, anomalous = scores > threshold, labels > 0
            tpr = flagged[anomalous].mean()
            fpr = flagged[~anomalous].mean() if (~anomalous).any() else 0.0
            precision = flagged[anomalous].sum() / max(flagged.sum(), 1)
            roc.plot([fpr], [tpr], "o", color="C3", label="threshold")
            pr.plot([tpr], [precision], "o", color="C3", label="threshold")
            roc.legend(loc="lower right")
    roc.set(xlabel="false-positive rate", ylabel="true-positive rate", xlim=(0, 1), ylim=(0, 1.02))
    pr.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    bins = np.histogram_bin_edges(scores, bins=min(30, max(5, len(scores) // 4)))
    hist.hist(scores[labels == 0], bins=bins, alpha=0.6, color="C2", label=f"normal ({int((labels == 0).sum())})")
    hist.hist(scores[labels > 0], bins=bins, alpha=0.6, color="C3", label=f"anomalous ({int((labels > 0).sum())})")
    if threshold is not None:
        hist.axvline(threshold, color="k", linestyle="--", label=f"threshold {threshold:.3g}")
    hist.set(title="image scores", xlabel="score", ylabel="images")
    hist.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path

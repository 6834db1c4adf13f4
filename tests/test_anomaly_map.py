"""The map smoothing is scipy's gaussian_filter (mode reflect, truncate 4), which the papers' code applies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gad.models.components.anomaly_map import gaussian_smooth, upsample_and_smooth

ndimage = pytest.importorskip("scipy.ndimage", reason="scipy (a dev dependency) is the reference")


@pytest.mark.parametrize(
    ("height", "width", "sigma"),
    [
        (224, 224, 6.0),
        (336, 336, 6.0),
        (37, 53, 2.0),
        (24, 24, 4.0),
        (5, 7, 6.0),
        (1, 3, 2.0),
        (2, 2, 0.7),
        (16, 9, 1.2),
    ],
)
def test_equals_scipy_gaussian_filter_border_included(height: int, width: int, sigma: float) -> None:
    maps = np.random.default_rng([height, width]).random((2, height, width))
    expected = np.stack([ndimage.gaussian_filter(m, sigma) for m in maps])  # mode="reflect", truncate=4.0
    got = gaussian_smooth(torch.from_numpy(maps).float().unsqueeze(1), sigma)[:, 0].double().numpy()
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-6


def test_the_border_repeats_the_edge_pixel() -> None:
    """Only the edge column is 1: scipy's reflect mirrors the edge pixel itself (position -1 reads column 0), so the
    border keeps the kernel's centre and first weights (~0.64); a mirror without the edge (kornia's and torch's
    ``reflect``) keeps the centre weight alone (~0.40)."""
    maps = torch.zeros(1, 1, 9, 9)
    maps[..., 0] = 1.0
    smoothed = gaussian_smooth(maps, 1.0)
    expected = ndimage.gaussian_filter(maps[0, 0].double().numpy(), 1.0)
    assert smoothed[0, 0, 4, 0].item() == pytest.approx(expected[4, 0], abs=1e-6)
    assert smoothed[0, 0, 4, 0].item() > 0.6


def test_no_smoothing_at_sigma_zero_and_upsampling_first() -> None:
    scores = torch.rand(2, 4, 4)
    assert torch.equal(gaussian_smooth(scores[:, None], 0.0), scores[:, None])
    smoothed = upsample_and_smooth(scores, 16, 1.5, align_corners=True)
    upsampled = torch.nn.functional.interpolate(scores[:, None], size=(16, 16), mode="bilinear", align_corners=True)
    expected = np.stack([ndimage.gaussian_filter(m, 1.5) for m in upsampled[:, 0].double().numpy()])
    assert smoothed.shape == (2, 1, 16, 16)
    assert np.abs(smoothed[:, 0].double().numpy() - expected).max() <= 1e-6

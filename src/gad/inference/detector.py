"""Using a trained model without Lightning: load a checkpoint, set a few normal references, score images."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from gad.data.images import ResizeToTensor
from gad.errors import GadError
from gad.inference.checkpoint import load_module, run_center_crop
from gad.inference.inputs import Images, InputImage, check_sizes, load_images
from gad.inference.threshold import Threshold, check_fpr, threshold_at_fpr
from gad.models.base import FewShotAnomalyModule
from gad.overlay import heatmap_overlay

DEFAULT_CATEGORY = "object"


class NoReferencesError(GadError, RuntimeError):
    """Scoring before ``set_references``."""


@dataclass
class Prediction:
    """One scored image. ``image``: what the model saw, at the input's resolution ((H, W, 3) uint8: the whole
    image, or its central square when the model preprocesses with a centre crop); ``anomaly_map``: (H, W) float32
    on the same pixels (higher = more anomalous); ``anomalous``: ``score > threshold``, ``None`` without one."""

    name: str
    score: float
    anomaly_map: np.ndarray
    image: np.ndarray
    anomalous: bool | None = None

    def overlay(self, vmin: float | None = None, vmax: float | None = None, alpha: float = 0.5) -> np.ndarray:
        """The map as a heat map over the image, (H, W, 3) uint8 (pass one range to compare images)."""
        return heatmap_overlay(self.image, self.anomaly_map, vmin, vmax, alpha)


class Detector:
    """A trained few-shot model ready to score images of one product from a few normal references::

        detector = Detector.from_checkpoint("runs/<run>/checkpoints/best.ckpt")
        detector.set_references("good/", category="bottle")
        for p in detector.predict("line/*.png"):
            print(p.name, p.score)

    Images may be files, folders, globs, PIL images, numpy arrays or [0, 1] tensors (see ``load_images``).

    Args:
        module: a gad LightningModule (``DictAS``, ``InCTRL``, ...), trained or training-free.
        center_crop: preprocess as the model was trained: resize the shorter side and crop the centre (InCTRL's
            configs) instead of squashing the whole image to the model's square input.
        device: where to run (default: CUDA if available).
        batch_size: images scored at once.
        allow_mixed_sizes: accept references and queries of different sizes (each resized to the input);
            off by default because patch-wise comparison assumes one geometry.
    """

    def __init__(
        self, module: FewShotAnomalyModule, center_crop: bool = False, device: str | torch.device | None = None,
        batch_size: int = 8, allow_mixed_sizes: bool = False,
    ) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.module = module.eval().to(self.device)
        self.center_crop = center_crop
        self.batch_size = batch_size
        self.allow_mixed_sizes = allow_mixed_sizes
        self.transform = ResizeToTensor(self.image_size, center_crop)  # as the datamodule preprocesses
        self.threshold: Threshold | None = None
        self.category: str | None = None
        self.reference_names: list[str] = []
        self._reference_files: set[Path] = set()
        self._reference_size: tuple[int, int] | None = None

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, center_crop: bool | None = None, device: str | torch.device | None = None,
        batch_size: int = 8, allow_mixed_sizes: bool = False,
    ) -> Detector:
        """Load a checkpoint written by ``gad fit``; ``center_crop`` defaults to its run's data setting."""
        crop = run_center_crop(path) if center_crop is None else center_crop
        return cls(load_module(path), crop, device, batch_size, allow_mixed_sizes)

    @property
    def method(self) -> str:
        return type(self.module).__name__

    @property
    def image_size(self) -> int:
        return self.module.model.backbone.image_size

    # ----- references and threshold ------------------------------------------------------------------------
    def set_references(self, images: Images, category: str = DEFAULT_CATEGORY) -> Detector:
        """Encode K normal images of one product (replacing any earlier ones); ``category`` names it in the text
        prompts (e.g. ``bottle``), which methods with a text score use."""
        loaded = load_images(images, "references")
        size = None if self.allow_mixed_sizes else check_sizes(loaded, None, "references")
        with torch.no_grad():
            batch = torch.stack([self._tensor(image.pixels) for image in loaded]).to(self.device)
            self.module.model.clear_references()
            self.module.model.set_references(category, batch)
        self.category, self.reference_names, self._reference_size = category, [i.name for i in loaded], size
        self._reference_files = _files(loaded)
        return self

    def calibrate(self, normal_images: Images, fpr: float = 0.01, progress: bool = False) -> Threshold:
        """Choose and keep the threshold that flags at most ``fpr`` of held-out normal images (not the
        references), see ``threshold_at_fpr``."""
        check_fpr(fpr)
        normals = load_images(normal_images, "calibration images")
        overlap = sorted(str(path) for path in self._reference_files & _files(normals))
        if overlap:
            raise GadError(f"calibration images: {overlap[:3]} are references; hold out other normal images.")
        scores = [p.score for p in self._predict(normals, progress, "calibrating")]
        self.threshold = threshold_at_fpr(scores, fpr)
        return self.threshold

    def set_threshold(self, value: float) -> None:
        self.threshold = Threshold(value)

    # ----- scoring -----------------------------------------------------------------------------------------
    def predict(self, images: Images, progress: bool = False) -> list[Prediction]:
        """Score images against the references: score, anomaly map, decision (see ``Prediction``)."""
        return list(self.predict_iter(images, progress))

    def predict_iter(self, images: Images, progress: bool = False) -> Iterator[Prediction]:
        """As ``predict``, one image at a time, reading files batch by batch (for long lists of files)."""
        return self._predict(load_images(images, "images"), progress, "gad predict")

    def _predict(self, images: list[InputImage], progress: bool, desc: str) -> Iterator[Prediction]:
        if self.category is None:
            raise NoReferencesError("No references: call set_references(normal_images) before scoring.")
        if not self.allow_mixed_sizes:
            check_sizes(images, self._reference_size, "images")
        bar = tqdm(total=len(images), desc=desc, unit="image", disable=not progress)
        for start in range(0, len(images), self.batch_size):
            chunk = images[start:start + self.batch_size]
            pixels = [image.pixels for image in chunk]
            views = [self.view(p) for p in pixels]
            batch = torch.stack([self._tensor(p) for p in pixels]).to(self.device)
            with torch.no_grad():
                out = self.module.model(batch, self.category)
            if out.anomaly_map is None:
                raise GadError(f"{self.method} gives image scores only; the detector needs anomaly maps.")
            maps = out.anomaly_map[:, 0].float().cpu().numpy()
            for image, view, score, anomaly_map in zip(chunk, views, out.score.float().cpu().tolist(), maps):
                full = cv2.resize(anomaly_map, (view.shape[1], view.shape[0]), interpolation=cv2.INTER_LINEAR)
                anomalous = None if self.threshold is None else score > self.threshold.value
                yield Prediction(image.name, score, full, view, anomalous)
            bar.update(len(chunk))
        bar.close()

    def _tensor(self, pixels: np.ndarray) -> Tensor:
        return self.transform(pixels)[0]

    def view(self, pixels: np.ndarray) -> np.ndarray:
        """The pixels the model sees: the whole image, or its central square with ``center_crop``."""
        if not self.center_crop:
            return pixels
        height, width = pixels.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        return pixels[top:top + side, left:left + side]


def _files(images: list[InputImage]) -> set[Path]:
    """The resolved paths of the images read from files (in-memory images have no identity to compare)."""
    return {image.source.resolve() for image in images if isinstance(image.source, Path)}

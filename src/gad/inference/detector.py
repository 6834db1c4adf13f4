"""Using a trained model without Lightning: load a checkpoint, set a few normal references, score images."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from gad.data.dataset import to_tensors
from gad.data.preprocessing import Preprocessing
from gad.data.prompt_files import ModelInput, load_prompts, prompt_file_for
from gad.errors import GadError
from gad.inference.checkpoint import load_module
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
    image, or the part that the model's centre crop keeps, see ``Detector.view``); ``anomaly_map``: (H, W) float32
    on the same pixels (higher = more anomalous); ``anomalous``: ``score > threshold``, ``None`` without one.

    ``parts``: the named components of the score (DictAS: ``map``, the map maximum, and ``text``, the CLIP text
    score; InCTRL: ``image``, ``text``, ``holistic``, ``patch_max``). ``model_map``: the anomaly map at the model's
    input resolution (S, S), before it is resized to the image; ``unsmoothed_map``: the same before Gaussian
    smoothing, for methods that expose it (DictAS), else ``None``.
    """

    name: str
    score: float
    anomaly_map: np.ndarray
    image: np.ndarray
    anomalous: bool | None = None
    parts: dict[str, float] = field(default_factory=dict)
    model_map: np.ndarray | None = None
    unsmoothed_map: np.ndarray | None = None

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

    Images are preprocessed as the module says (``module.preprocessing``, which its checkpoint carries), as in
    ``gad test``.

    Args:
        module: a gad LightningModule (``DictAS``, ``InCTRL``, ...), trained or training-free.
        device: where to run (default: CUDA if available).
        batch_size: images scored at once.
        allow_mixed_sizes: accept references and queries of different sizes (each resized to the input);
            off by default because patch-wise comparison assumes one geometry.
    """

    def __init__(
        self,
        module: FewShotAnomalyModule,
        device: str | torch.device | None = None,
        batch_size: int = 8,
        allow_mixed_sizes: bool = False,
    ) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.module = module.eval().to(self.device)
        self.batch_size = batch_size
        self.allow_mixed_sizes = allow_mixed_sizes
        self.threshold: Threshold | None = None
        self.pixel_threshold: Threshold | None = None
        self.category: str | None = None
        self.reference_names: list[str] = []
        self._reference_files: set[Path] = set()
        self._reference_size: tuple[int, int] | None = None

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str | torch.device | None = None,
        batch_size: int = 8,
        allow_mixed_sizes: bool = False,
    ) -> Detector:
        """Load a checkpoint written by gad (it holds the model's preprocessing, so no run folder is needed)."""
        return cls(load_module(path), device, batch_size, allow_mixed_sizes)

    @property
    def method(self) -> str:
        return type(self.module).__name__

    @property
    def preprocessing(self) -> Preprocessing:
        return self.module.preprocessing

    @property
    def image_size(self) -> int:
        return self.preprocessing.image_size

    # ----- references and threshold ------------------------------------------------------------------------
    def set_references(self, images: Images, category: str = DEFAULT_CATEGORY) -> Detector:
        """Encode K normal images of one product (replacing any earlier ones); ``category`` names it in the text
        prompts (e.g. ``bottle``), which methods with a text score use.

        ``images`` may also be an InCTRL prompt file (``fs_samples/<dataset>/<K>/<category>.pt``) or its folder
        (then ``<category>.pt`` is used): its tensors are the model's input already, used as they are."""
        prompts = prompt_file_for(images, category)
        if prompts is not None:
            batch = load_prompts(prompts, ModelInput.of(self.module.backbone))
            names, size, files = [f"{prompts}[{i}]" for i in range(len(batch))], None, set()
        else:
            loaded = load_images(images, "references")
            size = None if self.allow_mixed_sizes else check_sizes(loaded, None, "references")
            batch = torch.stack([self._tensor(image.pixels) for image in loaded])
            names, files = [i.name for i in loaded], _files(loaded)
        with torch.no_grad():
            self.module.model.clear_references()
            self.module.model.set_references(category, batch.to(self.device))
        self.category, self.reference_names, self._reference_size = category, names, size
        self._reference_files = files
        return self

    def calibrate(
        self, normal_images: Images, fpr: float = 0.01, progress: bool = False, pixel_fpr: float | None = None
    ) -> Threshold:
        """Choose and keep the threshold that flags at most ``fpr`` of held-out normal images (not the
        references), see ``threshold_at_fpr``; with ``pixel_fpr`` also ``pixel_threshold``, on anomaly-map values,
        that flags at most that share of their pixels (the predicted masks)."""
        check_fpr(fpr)
        if pixel_fpr is not None:
            check_fpr(pixel_fpr, "pixel_fpr")
        normals = load_images(normal_images, "calibration images")
        overlap = sorted(str(path) for path in self._reference_files & _files(normals))
        if overlap:
            raise GadError(f"calibration images: {overlap[:3]} are references; hold out other normal images.")
        scores, pixels = [], []
        for prediction in self._predict(normals, progress, "calibrating"):
            scores.append(prediction.score)
            if pixel_fpr is not None:  # at the model's resolution: the same values, far fewer of them
                pixels.append(
                    (prediction.anomaly_map if prediction.model_map is None else prediction.model_map).ravel()
                )
        self.threshold = threshold_at_fpr(scores, fpr)
        if pixel_fpr is not None:
            self.pixel_threshold = threshold_at_fpr(np.concatenate(pixels), pixel_fpr, warn=False)
        return self.threshold

    def set_threshold(self, value: float, pixel: float | None = None) -> None:
        """Fixed thresholds: ``value`` on image scores, ``pixel`` on anomaly-map values (predicted masks)."""
        self.threshold = Threshold(value)
        self.pixel_threshold = None if pixel is None else Threshold(pixel)

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
            chunk = images[start : start + self.batch_size]
            pixels = [image.pixels for image in chunk]
            views = [self.view(p) for p in pixels]
            batch = torch.stack([self._tensor(p) for p in pixels]).to(self.device)
            with torch.no_grad():
                out = self.module.model(batch, self.category)
            if out.anomaly_map is None:
                raise GadError(f"{self.method} gives image scores only; the detector needs anomaly maps.")
            maps = out.anomaly_map[:, 0].float().cpu().numpy()
            unsmoothed = None if out.unsmoothed_map is None else out.unsmoothed_map[:, 0].float().cpu().numpy()
            parts = {name: values.float().cpu().tolist() for name, values in out.parts.items()}
            scores = out.score.float().cpu().tolist()
            for i, (image, view, score, anomaly_map) in enumerate(zip(chunk, views, scores, maps)):
                full = cv2.resize(anomaly_map, (view.shape[1], view.shape[0]), interpolation=cv2.INTER_LINEAR)
                anomalous = None if self.threshold is None else score > self.threshold.value
                yield Prediction(
                    image.name,
                    score,
                    full,
                    view,
                    anomalous,
                    parts={name: v[i] for name, v in parts.items()},
                    model_map=anomaly_map,
                    unsmoothed_map=None if unsmoothed is None else unsmoothed[i],
                )
            bar.update(len(chunk))
        bar.close()

    def _tensor(self, pixels: np.ndarray) -> Tensor:
        return to_tensors(self.preprocessing, pixels)[0]

    def view(self, pixels: np.ndarray) -> np.ndarray:
        """The pixels the model sees, at the input's resolution: the whole image, or the part of it that the
        centre crop keeps (``Preprocessing.visible_box``)."""
        top, left, bottom, right = self.preprocessing.visible_box(*pixels.shape[:2])
        return pixels[top:bottom, left:right]


def _files(images: list[InputImage]) -> set[Path]:
    """The resolved paths of the images read from files (in-memory images have no identity to compare)."""
    return {image.source.resolve() for image in images if isinstance(image.source, Path)}

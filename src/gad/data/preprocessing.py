"""The one definition of how an image (and its mask) becomes the model's square input.

The papers' code preprocesses with torchvision on PIL images: DictAS ``Resize((S, S))`` + ``CenterCrop(S)``,
InCTRL ``Resize(S)`` + ``CenterCrop(S)``, both bicubic, then ``ToTensor``. Reproducing a published number needs the
same pixels, so this module repeats exactly that: PIL's ``Image.resize`` (which antialiases when shrinking) and
torchvision's size and crop arithmetic, bit for bit. It needs only numpy and PIL (no torch, no torchvision) so that
the ONNX runner (``gad.onnx_runner``) shares it on a machine without torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import numpy as np
from PIL import Image

from gad.errors import ConfigError

ResizeRule = Literal["squash", "shorter_side"]
Interpolation = Literal["bicubic", "bilinear", "nearest"]

_PIL_FILTERS = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}
# A mask follows its image's geometry with PIL's bilinear filter, then is binarised at 0.5 (the official DictAS
# rule for ground truth: Resize with torchvision's default, ToTensor, > 0.5); 0/1 masks are scaled to 0/255 first.
_MASK_THRESHOLD = 128  # v / 255 > 0.5  <=>  v >= 128 for 8-bit v


@dataclass(frozen=True)
class Preprocessing:
    """How images become the (3, S, S) float32 model input in [0, 1] (the model normalises inside).

    Args:
        image_size: S, the side of the model's square input (the backbone's).
        resize: ``squash``: the whole image to S x S, aspect ratio not kept (torchvision ``Resize((S, S))``;
            DictAS). ``shorter_side``: the shorter side to S and the longer to ``int(S * long / short)``
            (truncated, as torchvision), then the central S x S square, its offset ``round((side - S) / 2)`` with
            Python's rounding (torchvision ``Resize(S)`` + ``CenterCrop(S)``; InCTRL, open_clip).
        interpolation: PIL's resampling filter (``Image.resize``; antialiased when shrinking). The papers use
            ``bicubic``.
    """

    image_size: int
    resize: ResizeRule = "squash"
    interpolation: Interpolation = "bicubic"

    def __post_init__(self) -> None:
        if not isinstance(self.image_size, int) or self.image_size < 1:
            raise ConfigError(f"preprocessing.image_size must be a positive integer, got {self.image_size!r}")
        if self.resize not in get_args(ResizeRule):
            raise ConfigError(f"preprocessing.resize must be one of {get_args(ResizeRule)}, got {self.resize!r}")
        if self.interpolation not in _PIL_FILTERS:
            raise ConfigError(
                f"preprocessing.interpolation must be one of {tuple(_PIL_FILTERS)}, got {self.interpolation!r}"
            )

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Preprocessing:
        """From ``as_dict``'s plain form (checkpoint hyperparameters, ONNX metadata)."""
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """Plain types only, so that a checkpoint holding it loads with ``torch.load(weights_only=True)``."""
        return asdict(self)

    # ----- geometry (torchvision's arithmetic) -----------------------------------------------------------------
    def resized_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) after the resize, before the centre crop."""
        size = self.image_size
        if self.resize == "squash":
            return size, size
        short, long = (width, height) if width <= height else (height, width)
        new_long = int(size * long / short)
        return (new_long, size) if width <= height else (size, new_long)

    def crop_offset(self, height: int, width: int) -> tuple[int, int]:
        """(top, left) of the S x S crop in the resized image."""
        resized_height, resized_width = self.resized_size(height, width)
        return (
            int(round((resized_height - self.image_size) / 2.0)),
            int(round((resized_width - self.image_size) / 2.0)),
        )

    def visible_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) of the part of an H x W image that the model sees, in its own pixels."""
        resized_height, resized_width = self.resized_size(height, width)
        top, left = self.crop_offset(height, width)
        size = self.image_size
        return (
            round(top * height / resized_height),
            round(left * width / resized_width),
            round((top + size) * height / resized_height),
            round((left + size) * width / resized_width),
        )

    # ----- pixels ------------------------------------------------------------------------------------------------
    def image(self, pixels: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB to the (S, S, 3) uint8 model view; an S x S image is returned unchanged."""
        return self._resample(Image.fromarray(np.ascontiguousarray(pixels)), _PIL_FILTERS[self.interpolation])

    def mask(self, mask: np.ndarray) -> np.ndarray:
        """(H, W) {0, 1} mask to (S, S) {0, 1} uint8 on the same pixels as ``image`` (bilinear, then >= 0.5)."""
        scaled = Image.fromarray((np.asarray(mask) > 0).astype(np.uint8) * 255)
        return (self._resample(scaled, Image.Resampling.BILINEAR) >= _MASK_THRESHOLD).astype(np.uint8)

    def __call__(self, pixels: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The model input: (3, S, S) float32 in [0, 1] (``ToTensor``: value / 255) and, given a mask, its
        (1, S, S) float32 {0, 1} mask."""
        chw = np.ascontiguousarray(self.image(pixels).transpose(2, 0, 1)).astype(np.float32) / np.float32(255)
        if mask is None:
            return chw, None
        return chw, self.mask(mask)[None].astype(np.float32)

    def _resample(self, image: Image.Image, resample: Image.Resampling) -> np.ndarray:
        height, width = image.height, image.width
        resized_height, resized_width = self.resized_size(height, width)
        if (resized_height, resized_width) != (height, width):
            image = image.resize((resized_width, resized_height), resample)
        top, left = self.crop_offset(height, width)
        size = self.image_size
        return np.asarray(image)[top : top + size, left : left + size]

    # ----- for other programs --------------------------------------------------------------------------------------
    def specification(self) -> dict[str, Any]:
        """The rule in words precise enough to reimplement it (written into ONNX metadata), with ``as_dict``."""
        size = self.image_size
        method = {"bicubic": "BICUBIC", "bilinear": "BILINEAR", "nearest": "NEAREST"}[self.interpolation]
        resize = (
            f"the whole image to ({size}, {size}), aspect ratio not kept"
            if self.resize == "squash"
            else f"the shorter side to {size}, the longer to int({size} * long / short) (truncated); then crop the "
            f"central {size} x {size} square at top = round((height - {size}) / 2), left = round((width - {size}) "
            "/ 2) (Python round: halves to even)"
        )
        torchvision = f"Resize(({size}, {size}))" if self.resize == "squash" else f"Resize({size})"
        return self.as_dict() | {
            "steps": [
                "decode to 8-bit RGB (H, W, 3)",
                f"resize {resize}, with PIL Image.resize((width, height), Image.Resampling.{method}) (antialiased "
                "when shrinking); an image already of the target size is not resampled",
                "float32 value / 255, channels first (3, S, S), RGB; stack to (batch, 3, S, S)",
            ],
            "equivalent": f"torchvision.transforms: {torchvision}, CenterCrop({size}), ToTensor() on a PIL RGB image, "
            f"interpolation InterpolationMode.{method}",
        }

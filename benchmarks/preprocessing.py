"""Cost of gad's preprocessing (PIL bicubic with antialiasing, torchvision geometry: the official rule) against the
path gad used before (OpenCV INTER_CUBIC through albumentations, no antialiasing), side by side in one run.

    python benchmarks/preprocessing.py               # one thread, the figure per CPU core
    python benchmarks/preprocessing.py --repeats 5 --count 20

For each case (an image size and format, a model input side, a resize rule) it prints images per second of
  - resize: (H, W, 3) uint8 pixels in memory to the (3, S, S) float32 model input;
  - file: the same from the image file (decode included), the rate of a DataLoader worker;
and the largest difference between the two paths' model inputs (in [0, 1] units). ``old, draft`` is the old
training pipelines' path for JPEGs (decoded at a reduced scale in the DCT domain, then OpenCV). Timings are the
best of ``--repeats`` over ``--count`` images, in wall and CPU time of the process, with one thread (OpenCV and
torch) so that a shared machine's load matters little.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data as skdata  # noqa: E402

from gad.data.dataset import to_tensors  # noqa: E402
from gad.data.images import read_rgb  # noqa: E402
from gad.data.preprocessing import Preprocessing, ResizeRule  # noqa: E402


@dataclass(frozen=True)
class Case:
    name: str
    height: int
    width: int
    suffix: str
    size: int
    resize: ResizeRule


CASES = [
    Case("quickstart", 128, 128, ".png", 112, "squash"),
    Case("MVTec AD-like (DictAS)", 1024, 1024, ".png", 336, "squash"),
    Case("VisA-like JPEG (DictAS)", 1000, 1500, ".jpg", 336, "squash"),
    Case("MVTec AD-like (InCTRL)", 1024, 1024, ".png", 240, "shorter_side"),
    Case("VisA-like JPEG (InCTRL)", 1000, 1500, ".jpg", 240, "shorter_side"),
]


def old_transform(size: int, resize: ResizeRule) -> Callable[[np.ndarray], torch.Tensor]:
    """gad's previous ``ResizeToTensor``: albumentations with OpenCV INTER_CUBIC (no antialiasing; the long side
    rounded, the crop offset floored)."""
    cubic = {"interpolation": cv2.INTER_CUBIC}
    if resize == "squash":
        transform = A.Resize(size, size, **cubic)
    else:
        transform = A.Compose([A.SmallestMaxSize(max_size=size, **cubic), A.CenterCrop(size, size)])

    def apply(pixels: np.ndarray) -> torch.Tensor:
        out = transform(image=pixels)["image"]
        return torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1).float().div_(255.0)

    return apply


def read_draft(path: Path, side: int) -> np.ndarray:
    """The old training pipelines' JPEG decode at 1/2, 1/4 or 1/8 scale, both sides kept >= ``side``."""
    with Image.open(path) as image:
        image.draft("RGB", (side, side))
        return np.array(image.convert("RGB"))


def picture(height: int, width: int) -> np.ndarray:
    """A natural photograph (scikit-image's astronaut) at the case's size, with sensor-like noise."""
    base = cv2.resize(skdata.astronaut(), (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    noise = np.random.default_rng(0).normal(0, 6, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def best_rate(work: Callable[[], object], count: int, repeats: int) -> tuple[float, float]:
    """Images per second of wall time and of process CPU time, each the best of ``repeats`` after a warm-up."""
    work()
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            work()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return count / min(wall), count / max(min(cpu), 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10, help="images per timing")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    print(
        f"one thread; best of {args.repeats} x {args.count} images; load average {os.getloadavg()[0]:.1f}; "
        f"Pillow {Image.__version__}, OpenCV {cv2.__version__}, albumentations {A.__version__}"
    )
    header = f"{'case':26} {'path':12} {'resize img/s (CPU)':>20} {'file img/s (CPU)':>18} {'max |new - old|':>16}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as folder:
        for case in CASES:
            pixels = picture(case.height, case.width)
            path = Path(folder) / f"image{case.suffix}"
            Image.fromarray(pixels).save(path, **({"quality": 90} if case.suffix == ".jpg" else {}))
            new = Preprocessing(case.size, case.resize)
            old = old_transform(case.size, case.resize)
            difference = float((to_tensors(new, pixels)[0] - old(pixels)).abs().max())
            paths = {
                "new (PIL)": (lambda: to_tensors(new, pixels), lambda: to_tensors(new, read_rgb(path))),
                "old (cv2)": (lambda: old(pixels), lambda: old(read_rgb(path))),
            }
            if case.suffix == ".jpg":
                paths["old, draft"] = (None, lambda: old(read_draft(path, case.size)))
            for label, (resize, from_file) in paths.items():
                rates = None if resize is None else best_rate(resize, args.count, args.repeats)
                resize_text = "" if rates is None else "{:7.0f} ({:7.0f})".format(*rates)
                file_text = "{:6.0f} ({:6.0f})".format(*best_rate(from_file, args.count, args.repeats))
                shown = f"{difference:.4f}" if label == "old (cv2)" else ""
                print(f"{case.name:26} {label:12} {resize_text:>20} {file_text:>18} {shown:>16}")


if __name__ == "__main__":
    main()

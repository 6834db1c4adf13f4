"""Inference cost of InCTRL's patch-level residual: the vectorised map against the official-style loop.

    python benchmarks/inctrl_residual.py                 # ViT-B-16-plus-240 shapes: 15x15 patches, width 896
    python benchmarks/inctrl_residual.py --batch 8 --shots 8 --device cuda

Random unit vectors of the paper's shapes (the residual does not depend on the weights): L = 3 tapped layers,
N = 225 patches per image, K * N prompt patches shared by the batch, as at test time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import time_calls  # noqa: E402

from gad.models.inctrl.residual import patch_residual, patch_residual_loop  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--patches", type=int, default=225)
    parser.add_argument("--width", type=int, default=896)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    shape = (args.layers, args.patches, args.width)
    query = F.normalize(torch.randn(args.batch, *shape, generator=generator), dim=-1)
    prompts = F.normalize(torch.randn(1, args.shots, *shape, generator=generator), dim=-1)
    prompts = prompts.transpose(1, 2).flatten(2, 3)  # (1, L, K * N, C), as encoded references
    query, prompts = query.to(device), prompts.to(device)
    torch.testing.assert_close(
        patch_residual(query, prompts), patch_residual_loop(query, prompts), rtol=1e-4, atol=1e-5
    )
    fast = time_calls(lambda: patch_residual(query, prompts), device, args.repeats).best
    slow = time_calls(lambda: patch_residual_loop(query, prompts), device, args.repeats).best
    print(
        f"patch residual, batch {args.batch}, K={args.shots}, {args.layers} layers x {args.patches} patches x "
        f"{args.width} channels on {device} ({torch.get_num_threads()} threads)\n"
        f"  loop (official style): {slow * 1e3:10.1f} ms   {slow / args.batch * 1e3:8.2f} ms/image\n"
        f"  vectorised (gad):      {fast * 1e3:10.1f} ms   {fast / args.batch * 1e3:8.2f} ms/image\n"
        f"  speed-up: {slow / fast:.1f}x"
    )


if __name__ == "__main__":
    main()

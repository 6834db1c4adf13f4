#!/usr/bin/env bash
# Test the training-free baseline on a small quickstart in 1 process, then on 2 CPU processes (gloo, DDP preset).
# Each target category has 9 test images (27 in all, odd), so Lightning's distributed sampler repeats one image to
# even out the ranks. Run from an empty folder. Usage: ddp_evaluation.sh REPO
set -euo pipefail
repo=$1
gad=$(dirname "$(command -v python)")/gad
"$gad" data quickstart --root data/quickstart --n_train 2 --n_test_good 5 --n_test_per_defect 1
common=(--config "$repo/configs/patch_residual_quickstart.yaml" --shots 2 --trainer.logger false
        --data.init_args.eval_batch_size 4 --results.overlays 0)
GAD_RUNS_DIR=one "$gad" test "${common[@]}"
GAD_RUNS_DIR=two "$gad" test "${common[@]}" --config "$repo/configs/trainer/ddp.yaml" --trainer.accelerator cpu

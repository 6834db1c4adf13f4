#!/usr/bin/env bash
# Test the training-free baseline on a small quickstart in 1 process, then on 2 CPU processes (gloo, DDP preset).
# Each target category has 9 test images (27 in all, odd), so Lightning's distributed sampler repeats one image to
# even out the ranks. Images go one per batch in both runs, so that the maps are bit-identical. Run from an empty
# folder. Usage: ddp_evaluation.sh REPO
set -euo pipefail
repo=$1
gad=$(dirname "$(command -v python)")/gad
"$gad" data quickstart --root data/small --n_train 2 --n_test_good 5 --n_test_per_defect 1
cat > small.yaml <<'YAML'
data:
  init_args:
    auxiliary: {class_path: gad.data.sources.MVTecLayout, init_args: {root: data/small, categories: [brick], name: small}}
    target: {class_path: gad.data.sources.MVTecLayout, init_args: {root: data/small, categories: [gravel, chelsea, coins], name: small}}
    eval_batch_size: 1  # scores must not depend on batch composition (float sums do)
YAML
common=(--config "$repo/configs/patch_residual_quickstart.yaml" --config small.yaml --shots 2 --trainer.logger false
        --results.overlays 0)
GAD_RUNS_DIR=one "$gad" test "${common[@]}"
GAD_RUNS_DIR=two "$gad" test --verbose "${common[@]}" --config "$repo/configs/trainer/ddp.yaml" --trainer.accelerator cpu

#!/usr/bin/env bash
# Fit the quickstart config on 2 CPU processes (gloo) with the DDP preset, then test the run in one process.
# --verbose: Lightning says how many processes run ("MEMBER: 2/2"). Run from an empty folder: data/ and runs/ are
# created there. Usage: ddp_quickstart.sh REPO [extra fit args...]
set -euo pipefail
repo=$1; shift
gad=$(dirname "$(command -v python)")/gad
"$gad" fit --verbose --config "$repo/configs/quickstart.yaml" --config "$repo/configs/trainer/ddp.yaml" --trainer.accelerator cpu "$@"
"$gad" test --shots 2 --trainer.logger false

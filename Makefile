# Set-up and entry points. `make demo` and `make test` are all a fresh clone needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.gad-installed

# Imports of albumentations, huggingface_hub and wandb otherwise reach for the network and stall.
export NO_ALBUMENTATIONS_UPDATE := 1
export HF_HUB_OFFLINE := 1
export WANDB_MODE ?= offline

.PHONY: install demo lint test test-fast clean

install: $(STAMP)

# Reinstall only when the dependency set changes. torch/torchvision are pinned together in constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,export]'
	touch $@

# Quickstart: generated data + tiny random CLIP, fit then test the run just made, on CPU.
demo: install
	$(BIN)/gad fit --config configs/quickstart.yaml
	$(BIN)/gad test --shots 4

# The gate CI runs first: lint rules, formatting (line length 120) and types (config in pyproject.toml).
lint: install
	$(BIN)/ruff check
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

test: install
	$(BIN)/python -m pytest

# The inner loop: everything but the slow, multi-process and notebook tests (about a minute on 2 quiet cores; torch on one thread).
test-fast: install
	$(BIN)/python -m pytest -m "not slow and not ddp and not notebook"

clean:
	rm -rf runs data/quickstart wandb .pytest_cache

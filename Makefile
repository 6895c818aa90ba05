# Two commands do everything on a fresh machine: `make demo` and `make test`. Both install into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint bench clean-demo

$(INSTALLED): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and alone: pinned to the wheel that needs no GPU download (see README).
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

demo: $(INSTALLED)
	$(BIN)/snakemake --profile profiles/demo

test: $(INSTALLED)
	# A real single-node SLURM cluster for tests/test_slurm.py, and Debian's Chromium for the browser tests:
	# installed when missing on CI (as root).
	if [ "$$CI" = true ]; then bash tests/slurm/install-slurm.sh && bash tests/browser/install-chromium.sh; fi
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint --configfile profiles/demo/demo-config.yaml
	$(BIN)/pytest -q

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint --configfile profiles/demo/demo-config.yaml

bench: $(INSTALLED)
	$(BIN)/python -m bench

clean-demo:
	rm -rf results/demo models/tiny .snakemake

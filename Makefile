PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
ARGS ?=

.PHONY: demo test lint bench clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=python3.x"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP_RUN): pyproject.toml setup.py chainrule/_native/kernels.c chainrule/_native/attention.c chainrule/_native/exp_f32.h | $(PY)
	$(PY) -m pip install -q -e ".[plot]"
	touch $@

$(STAMP_TEST): pyproject.toml setup.py chainrule/_native/kernels.c chainrule/_native/attention.c chainrule/_native/exp_f32.h | $(PY)
	$(PY) -m pip install -q -e ".[test]"
	touch $@ $(STAMP_RUN)

# The run folder gets loss.png and classify_*.png (matplotlib comes with the plot extra).
# Extra options for chainrule train: make demo ARGS="--epochs 2".
demo: $(STAMP_RUN)
	$(VENV)/bin/chainrule train $(ARGS)

# Two test processes on two cores: one BLAS thread each, or they fight over the cores.
test: $(STAMP_TEST)
	$(VENV)/bin/ruff check .
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MPLBACKEND=Agg $(PY) -m pytest -n 2 --dist loadfile

lint: $(STAMP_TEST)
	$(VENV)/bin/ruff check .

bench: $(STAMP_TEST)
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

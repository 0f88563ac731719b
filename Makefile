# movinet_mm developer targets. `make test` is what CI runs (via .ci/run).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The CPU wheel of torch that lies on these machines' disk; users bring their own build.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: venv test test-slow demo clean-venv

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools>=64,<82" wheel
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[tests]"
	$(PY) -c "import movinet_mm, mmaction, mmcv, mmengine, decord, mim; print('movinet_mm stack ok: mmaction', mmaction.__version__, 'mmcv', mmcv.__version__, 'mmengine', mmengine.__version__)"
	touch $(STAMP)

test: venv
	$(PY) -m pytest -q -m "not slow" -n 2 $(PYTEST_ARGS)

test-slow: venv
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)

# movinet_mm developer targets. `make test` is what CI runs (via .ci/run).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The CPU wheel of torch that lies on these machines' disk; users bring their own build.
TORCH_SPEC ?= torch==2.13.0
LITERT_TORCH_SPEC ?= litert-torch==0.10.0
PYTEST_ARGS ?=

.PHONY: venv test test-slow lint demo clean-venv

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools>=64,<82" wheel
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[tests,deploy,search,litert,litert-export]"
	@# litert-torch without its transformers requirement (setup.cfg, litert-export)
	$(PY) -m pip install -q --no-deps "$(LITERT_TORCH_SPEC)"
	@# mim looks for <site-packages>/movinet_mm/.mim/tools/*.py, which an editable
	@# install does not create: link the package there (same files).
	@site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	  if [ ! -e "$$site/movinet_mm" ] || [ -L "$$site/movinet_mm" ]; then ln -sfn "$(CURDIR)/movinet_mm" "$$site/movinet_mm"; fi
	@# a failing tool under mim: its one-line error without mim's traceback
	$(PY) -m movinet_mm.utils.mim_exit
	$(PY) -c "import movinet_mm, mmaction, mmcv, mmengine, decord, mim; print('movinet_mm stack ok: mmaction', mmaction.__version__, 'mmcv', mmcv.__version__, 'mmengine', mmengine.__version__)"
	touch $(STAMP)

test: venv
	$(PY) -m pytest -q -m "not slow" -n 2 $(PYTEST_ARGS)

test-slow: venv
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS)

# ruff: pyflakes, pycodestyle and isort rules ([tool.ruff] in pyproject.toml)
lint: venv
	$(VENV)/bin/ruff check .

clean-venv:
	rm -rf $(VENV)

# TensorFlow reference env for the TF parity tests (tests/models/test_tf_parity.py):
# the official MoViNet code from tf-models-official, CPU only. `make test`
# builds it (once; the stamp makes it idempotent).
TF_VENV ?= .venv-tf
TF_PY := $(TF_VENV)/bin/python
TF_STAMP := $(TF_VENV)/.installed
TF_REQS := tools/tf_reference/requirements.txt tools/tf_reference/requirements-nodeps.txt tools/tf_reference/constraints.txt

.PHONY: tf-venv clean-tf-venv

tf-venv: $(TF_STAMP)

$(TF_STAMP): $(TF_REQS)
	test -x $(TF_PY) || $(PYTHON) -m venv $(TF_VENV)
	echo '*' > $(TF_VENV)/.gitignore
	$(TF_PY) -m pip install -q --upgrade pip
	$(TF_PY) -m pip install -q -r tools/tf_reference/requirements.txt -c tools/tf_reference/constraints.txt
	$(TF_PY) -m pip install -q --no-deps -r tools/tf_reference/requirements-nodeps.txt
	$(TF_PY) -c "import tensorflow as tf; from official.projects.movinet.modeling import movinet, movinet_model; print('tf reference env ok: tensorflow', tf.__version__)"
	touch $(TF_STAMP)

test: tf-venv
test-slow: tf-venv

clean-tf-venv:
	rm -rf $(TF_VENV)

# ---- demo: the whole plugin on a CPU in minutes, no Kinetics needed --------
# Generates the synthetic frame-order data set (data/synthetic, skipped when
# already complete), trains MoViNet-A0-Stream on it with `mim train`, tests
# the last checkpoint with the stream loop (`mim test`), plots the training
# curve and prints the accuracy per class pair and where everything is.
DEMO_CONFIG ?= configs/movinet_a0_stream_synthetic.py
DEMO_WORK_DIR ?= work_dirs/$(basename $(notdir $(DEMO_CONFIG)))
DEMO_DATA := data/synthetic
DEMO_TRAIN_ARGS ?=

demo: venv
	$(PY) tools/data/generate_synthetic.py --out $(DEMO_DATA)
	@start=$$(date +%s) && \
	$(PY) -m mim train movinet_mm $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR) $(DEMO_TRAIN_ARGS) && \
	echo $$(( $$(date +%s) - start )) > $(DEMO_WORK_DIR)/train_seconds.txt
	$(PY) -m mim test movinet_mm $(DEMO_CONFIG) --checkpoint "$$(cat $(DEMO_WORK_DIR)/last_checkpoint)" \
		--work-dir $(DEMO_WORK_DIR)/test --dump $(DEMO_WORK_DIR)/test/predictions.pkl
	$(PY) tools/analysis/plot_training_curve.py $(DEMO_WORK_DIR)
	@echo; echo "==== movinet_mm demo: $(DEMO_CONFIG) ===="
	@$(PY) tools/data/synthetic_report.py $(DEMO_WORK_DIR)/test/predictions.pkl \
		--data $(DEMO_DATA) --work-dir $(DEMO_WORK_DIR) --json $(DEMO_WORK_DIR)/test/report.json

# ---- search demo: TuNAS against random architectures of the same cost -----
# Generates its own synthetic data (data/synthetic_search; data/synthetic
# stays as it is), searches at half of A0-Stream's MACs at the demo input,
# and again with the cost term alone, scores the searched and 7 random
# architectures of the same cost (+-10%) with the supernet, trains and tests
# them and the cost-only one with 2 seeds, two side by side, and writes
# work_dirs/search_demo/search_report.json (with Kendall's tau between the
# supernet's scores and the test top-1) and a plot.
# search-demo-full: the same with SEARCH_DEMO_FULL_ARGS (longer settings).
SEARCH_DEMO_ARGS ?=
SEARCH_DEMO_FULL_ARGS ?= --num-random 7 --seeds 0 1

.PHONY: search-demo search-demo-full

search-demo: venv
	$(PY) tools/search/search_demo.py $(SEARCH_DEMO_ARGS)

search-demo-full: venv
	$(PY) tools/search/search_demo.py $(SEARCH_DEMO_FULL_ARGS)

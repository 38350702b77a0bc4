# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3

.PHONY: setup demo test lint
setup:
	@# Install the CPU build of torch first when torch is absent, so the generic `torch>=` requirement
	@# does not pull several GB of CUDA wheels; elsewhere pip resolves torch as usual.
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q "torch==2.13.0"
	@$(PYTHON) -m pip install -q -e ".[dev]"

demo: setup
	rnnkit demo

lint:
	$(PYTHON) -m ruff check src tests
	$(PYTHON) -m ruff format --check src tests
	$(PYTHON) -m mypy

test: setup lint
	$(PYTHON) -m pytest

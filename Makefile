# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# MNIST: $AEZOO_DATA_DIR if set, else the copy beside this checkout, else
# tensorflow-datasets downloads it (needs internet).
SHARED_MNIST := $(wildcard ../shared/data/mnist)
export AEZOO_DATA_DIR ?= $(SHARED_MNIST)

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m aezoo.demo

# Two processes (pytest-xdist); worksteal balances single tests, so the long
# parametrized tests/test_models.py is shared by both.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist worksteal

clean:
	rm -rf $(VENV) out .pytest_cache

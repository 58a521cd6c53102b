# Two commands on a fresh machine:
#   make run   - install, generate the synthetic demo raw data if absent, build the warehouse
#   make test  - install and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
RAW_DIR ?= $(or $(QSAFETY_RAW_DIR),data/raw)

.PHONY: install demo run build test test-all lock clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: install
	@if [ ! -d "$(RAW_DIR)/research" ]; then \
		$(BIN)/qsafety demo --out "$(RAW_DIR)"; \
	else echo "demo raw data present in $(RAW_DIR)"; fi

run: demo
	$(BIN)/qsafety build --export

build: install
	$(BIN)/qsafety build

lock: install
	$(BIN)/qsafety lock

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-all: install
	$(BIN)/python -m pytest -q -m "" $(PYTEST_ARGS)

clean:
	rm -rf data/warehouse.duckdb data/.warehouse.build data/warehouse_data_docs target logs

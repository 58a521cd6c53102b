# Two commands on a fresh machine:
#   make run   - install, generate the synthetic demo raw data if absent, build the warehouse
#   make test  - install and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
RAW_DIR ?= $(or $(QSAFETY_RAW_DIR),data/raw)

.PHONY: install install-spark demo run build test test-all test-spark lint lock clean screenshots vendor-data-docs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The optional Spark target (dbt-spark, pyspark; needs Java 17 to run). `make test`
# then also runs the DuckDB-vs-Spark demo comparison; without it the Spark tests skip.
install-spark: install
	$(BIN)/pip install -q -e '.[dev,spark]'

# QSAFETY_TARGET=spark make run: the same job on the Spark target (installs the spark extra)
ENGINE_INSTALL := $(if $(filter spark,$(QSAFETY_TARGET)),install-spark,install)

demo: $(ENGINE_INSTALL)
	@if [ ! -d "$(RAW_DIR)/research" ]; then \
		$(BIN)/qsafety demo --out "$(RAW_DIR)"; \
	else echo "demo raw data present in $(RAW_DIR)"; fi

run: demo
	$(BIN)/qsafety build --export

build: $(ENGINE_INSTALL)
	$(BIN)/qsafety build

lock: install
	$(BIN)/qsafety lock

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# ruff over the Python (pyproject.toml) and sqlfluff (.sqlfluff, .sqlfluffignore) over every
# model and macro (rendered by the jinja templater with the stand-ins of lint/dbt_stand_ins)
lint: install
	$(BIN)/ruff check
	$(BIN)/sqlfluff lint --processes 2 models macros

test-all: install
	$(BIN)/python -m pytest -q -m "" $(PYTEST_ARGS)

# every Spark test, slow ones included (seed-7 bundle via the CLI, corrupted input, fixtures)
test-spark: install-spark
	$(BIN)/python -m pytest -q -m spark tests/spark $(PYTEST_ARGS)

# docs/img/*.png shown in the README: the report, the dbt docs and the Data Docs of the demo
# warehouse, rendered by headless Chromium from disk (apt-get install chromium)
screenshots: run
	$(BIN)/python -m quant_safety.browser --out docs/img

# re-fetch the CSS/JS that GX's Data Docs load from CDNs (gx/data_docs_assets; needs npm)
vendor-data-docs:
	gx/data_docs_assets/fetch.sh

clean:
	rm -rf data/warehouse.duckdb data/.warehouse.build data/warehouse_data_docs target logs

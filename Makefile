# Two commands on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Offline and private: no telemetry, Prefect state kept inside the checkout.
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_LOGGING_LEVEL ?= WARNING

.PHONY: install demo test lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/soc2-evidence demo --output demo-output

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# benchmarks print numbers and assert nothing; each takes one to a few minutes
bench: $(STAMP)
	$(BIN)/python bench/bench_aws_collect.py
	$(BIN)/python bench/bench_iam.py
	$(BIN)/python bench/bench_identity_center.py
	$(BIN)/python bench/bench_gcs.py
	$(BIN)/python bench/bench_tls_scan.py --endpoints 50 --latency-ms 20
	$(BIN)/python bench/bench_drift.py
	$(BIN)/python bench/bench_period.py
	$(BIN)/python bench/bench_workbook.py --findings 200000
	$(BIN)/python bench/bench_orchestration.py

clean:
	rm -rf $(VENV) .prefect demo-output .pytest_cache .ruff_cache

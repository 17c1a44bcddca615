# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench kafka-fetch ops-tools clean

# setuptools always notes that an editable install maps folders (reconstream has no folder of its own): noise.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/recon demo

test: $(STAMP) ops-tools
	$(BIN)/ruff check .
	$(BIN)/pytest

# Prometheus (with promtool), Chromium and PostgreSQL from Debian's packages, for the ops, browser and case
# store tests (which start their own servers); where apt cannot run, those tests say what is missing.
ops-tools:
	@command -v promtool >/dev/null && command -v chromium >/dev/null && ls /usr/lib/postgresql/*/bin/initdb \
		>/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends prometheus chromium postgresql >/dev/null; } \
		|| echo "ops-tools: prometheus, chromium or postgresql not installed"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py --invoices 10000 200000 --state

kafka-fetch:
	bash ops/kafka/broker.sh fetch

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# The two commands: `make demo` and `make test`. Both install what they need first (the
# product and, beside it, the simulators distribution under simulators/ that the demo runs on).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv

.PHONY: install demo test check chaos bench serve clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "uv>=0.5"

$(VENV)/.synced: $(UV) pyproject.toml simulators/pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --quiet
	touch $@

install: $(VENV)/.synced

PROVIDER ?= solusvm2
GATEWAY ?= stripe

demo: install
	$(BIN)/fluxbilling-demo --provider $(PROVIDER) --gateway $(GATEWAY) $(DEMO_ARGS)

test: install
	scripts/test

check: install
	scripts/check

# The chaos gate at scale, not part of `make test` (docs/reliability.md):
# make chaos ORDERS=1000 [WORKERS=4] [KILL_EVERY=0.3-1.2] [BACKEND=postgresql|sqlite]
ORDERS ?= 1000
WORKERS ?= 4
KILL_EVERY ?= 0.3-1.2
BACKEND ?= postgresql
chaos: install
	ORDERS=$(ORDERS) WORKERS=$(WORKERS) KILL_EVERY=$(KILL_EVERY) BACKEND=$(BACKEND) scripts/chaos

bench: install
	$(BIN)/python bench/engine.py

serve: install
	$(BIN)/fluxbilling serve

clean:
	rm -rf $(VENV) .fluxbilling .pytest_cache .mypy_cache .ruff_cache .hypothesis

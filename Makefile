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

# The operator console (console/, TypeScript): built into the package, where the API serves it
# at `/` and the wheel carries it; rebuilt only when a source changed.
CONSOLE_BUILD := src/fluxbilling/console/index.html
CONSOLE_SOURCES := $(shell find console/src console/public -type f 2>/dev/null) \
	console/index.html console/vite.config.ts console/tsconfig.json

console/node_modules/.installed: console/package.json console/package-lock.json
	cd console && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CONSOLE_BUILD): console/node_modules/.installed $(CONSOLE_SOURCES)
	cd console && npm run --silent build -- --logLevel warn

install: $(VENV)/.synced $(CONSOLE_BUILD)

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
	rm -rf $(VENV) .fluxbilling .pytest_cache .mypy_cache .ruff_cache .hypothesis \
		console/node_modules src/fluxbilling/console

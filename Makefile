# hallwatch: the two commands the README promises (`make demo`, `make test`) and their helpers.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# One stamp per set of extras, so that `make demo` installs the roles and `make test` adds the tools.
STAMP_ALL  := $(VENV)/.installed-all
STAMP_TEST := $(VENV)/.installed-test
# Front-end libraries (uPlot) come from npm, pinned by web/package-lock.json; `npm run vendor` copies
# the files the pages load into server/web/static/vendor/ (git-ignored, served offline on the LAN).
# The same `npm ci` brings the JavaScript checkers (TypeScript, eslint).
NODE_STAMP := web/node_modules/.installed
VENDOR     := server/web/static/vendor/versions.json
# `make test` runs the tests in a random order that is the same on every run (pytest-randomly prints
# it); `make test RANDOM_SEED=123` tries another one.
RANDOM_SEED ?= 15

.PHONY: demo test test-fast lint typecheck imports js pytest web system-deps-test system-deps-demo clean

demo: system-deps-demo $(STAMP_ALL) web
	$(BIN)/hallwatch demo

# The Debian packages are checked first, so that a missing one stops the run before ten minutes of tests.
test: system-deps-test lint typecheck imports js pytest

# The unit tiers: no broker, database, browser or long detector runs; the edit-test loop.
test-fast: $(STAMP_TEST)
	$(BIN)/pytest -q -m "not slow and not browser and not services" -p randomly --randomly-seed=$(RANDOM_SEED)

system-deps-test:
	@scripts/system-deps.sh test

system-deps-demo:
	@scripts/system-deps.sh demo

lint: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP_TEST)
	$(BIN)/mypy hallwatch vision edge models server

# The import rules of docs/architecture.md ([tool.importlinter] in pyproject.toml).
imports: $(STAMP_TEST)
	$(BIN)/lint-imports

# The pages' JavaScript: TypeScript's checker over the `// @ts-check` files, and eslint.
js: $(NODE_STAMP)
	cd web && npm run --silent check

pytest: $(STAMP_TEST) web
	$(BIN)/pytest -p randomly --randomly-seed=$(RANDOM_SEED)

web: $(VENDOR)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_ALL): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[all]'
	touch $@

$(STAMP_TEST): pyproject.toml $(STAMP_ALL)
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	touch $@

$(NODE_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

$(VENDOR): $(NODE_STAMP) web/scripts/copy-vendor.mjs
	cd web && npm run --silent vendor

clean:
	rm -rf $(VENV) models/cache var test-artifacts web/node_modules server/web/static/vendor

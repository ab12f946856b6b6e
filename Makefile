# hallwatch: the two commands the README promises (`make demo`, `make test`) and their helpers.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Front-end libraries (uPlot) come from npm, pinned by web/package-lock.json; `npm run vendor` copies
# the files the pages load into server/web/static/vendor/ (git-ignored, served offline on the LAN).
VENDOR := server/web/static/vendor/versions.json

.PHONY: demo test lint typecheck pytest web clean

demo: $(STAMP) web
	$(BIN)/hallwatch demo

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy vision edge models server

pytest: $(STAMP) web
	$(BIN)/pytest

web: $(VENDOR)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(VENDOR): web/package.json web/package-lock.json web/scripts/copy-vendor.mjs
	cd web && npm ci --no-audit --no-fund
	cd web && npm run --silent vendor

clean:
	rm -rf $(VENV) models/cache var test-artifacts web/node_modules server/web/static/vendor

# Two commands work on a fresh machine from a clean clone: `make demo` and `make test`.
# Both create .venv if missing, install sheetgen with its test extra, install missing system
# packages through apt when run as root (else print the apt command), and are idempotent.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.sheetgen-installed
OUT ?= out

# What the engines need at run time (Pango for WeasyPrint; the HarfBuzz subsetter, without which
# every PDF takes ~0.7 s instead of ~0.03 s) and what the tests use (LibreOffice to check that a
# DOCX prints as one A4 page, Calc to write spreadsheets as staff do; qpdf to check PDF structure;
# chromium and its driver for the real-browser test of the `sheetgen serve` form; fontconfig's
# tools and the DejaVu fonts, the one family LibreOffice gets in the test of Word files on a
# machine without CJK fonts; PostgreSQL, which the desk's register tests start themselves).
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 \
	libreoffice-writer-nogui libreoffice-calc-nogui qpdf chromium chromium-driver \
	fontconfig fonts-dejavu-core postgresql

.PHONY: setup system layouts demo test lint typecheck pytest bench wheel fonts docx-templates clean

setup: system $(STAMP) layouts

system:
	@tools/system-packages.sh $(SYSTEM_PACKAGES)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

# The precompiled layouts of the bundled templates and the parsed rules (sheetgen/_precompiled,
# git-ignored), so that a first fill does not wait for WeasyPrint: about 15 s on a fresh clone,
# under 1 s when up to date (tools/precompile.py). The wheel's hook (hatch_build.py) ships it.
layouts: $(STAMP)
	@$(PY) tools/precompile.py

demo: setup
	@rm -rf $(OUT) && mkdir -p $(OUT)
	$(BIN)/sheetgen batch examples -o $(OUT) --bundle $(OUT)/bundle.pdf
	@echo "demo: PDFs written to $(OUT)/"
	@echo "demo: fill in the form in a browser: run  $(BIN)/sheetgen serve  and open http://127.0.0.1:8000/"
	@echo "      (or  source $(VENV)/bin/activate  once, then  sheetgen serve ; Ctrl-C stops it)"

test: setup lint typecheck pytest

lint:
	$(BIN)/ruff check sheetgen tests tools bench

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest -q

bench: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	$(PY) bench/bench.py
	$(PY) bench/batch.py
	$(PY) bench/serve.py
	$(PY) bench/spreadsheet.py
	$(PY) bench/docx_fonts.py
	$(PY) bench/receive.py
	$(PY) bench/desk.py
	$(PY) bench/preflight.py

# A release wheel, with the precompiled layouts (built in this environment, see hatch_build.py).
wheel: setup
	SHEETGEN_REQUIRE_LAYOUTS=1 $(PY) -m pip wheel --no-deps --no-build-isolation --quiet \
		--disable-pip-version-check --wheel-dir dist .

# Rebuild the supplementary font from Debian's fonts-noto-cjk (see fonts/README.md).
fonts: setup
	$(PY) tools/build_fonts.py

# Rebuild the DOCX templates from their source (see templates/README.md); commit both.
docx-templates: setup
	$(PY) tools/build_docx_templates.py

clean:
	rm -rf $(VENV) $(OUT) build dist .pytest_cache .mypy_cache .ruff_cache sheetgen/_precompiled

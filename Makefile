# make demo | make test | make bench | make catalog — each creates .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Debian packages the browser tests need (headless Chromium and its driver)
SYSTEM_PACKAGES := chromium chromium-driver

.PHONY: demo test bench catalog venv system-packages clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,ray]"
	touch $(STAMP)

system-packages:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -q $(SYSTEM_PACKAGES) || { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q $(SYSTEM_PACKAGES); }; }

demo: $(STAMP)
	$(PY) scripts/demo.py --workdir demo

test: $(STAMP) system-packages
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) scripts/bench.py $(BENCH_ARGS)

catalog: $(STAMP)
	$(PY) scripts/catalog.py --out catalog

clean:
	rm -rf demo catalog bench/work .pytest_cache

# The two commands of the README: `make run` and `make test`. Both set everything up first (idempotent).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.videolens-installed
OUT    ?= videolens-out

.PHONY: setup system-deps run test bench clean

setup: $(STAMP) system-deps

# The browser test of the HTML report drives Debian's chromium + chromium-driver. Installed once (idempotent);
# on machines without apt-get it only says what to install.
system-deps:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver; \
	else echo "note: install chromium and chromedriver to run the browser test of the HTML report"; fi

# Reinstalls only when the dependency declarations change. constraints.txt holds the exact, tested pins.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all]"
	@touch $(STAMP)

run: setup
	$(BIN)/videolens analyze samples/sample.mp4 -o $(OUT) --overwrite
	@echo
	@echo "Report: $(abspath $(OUT))/sample/report.html"

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/decode.py

clean:
	rm -rf $(OUT) .pytest_cache

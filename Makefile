# The two commands of the README: `make run` and `make test`. Both set everything up first (idempotent).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.videolens-installed
OUT    ?= videolens-out

.PHONY: setup run test bench clean

setup: $(STAMP)

# Reinstalls only when the dependency declarations change. constraints.txt holds the exact, tested pins.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all]"
	@touch $(STAMP)

run: setup
	$(BIN)/videolens info samples/sample.mp4
	$(BIN)/videolens contact-sheet samples/sample.mp4 -o $(OUT)/sample --overwrite --quiet
	@echo
	@echo "Output: $(OUT)/sample/contact_sheet.png"

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/decode.py

clean:
	rm -rf $(OUT) .pytest_cache

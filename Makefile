# The two commands of the README: `make run` and `make test`. Both set everything up first (idempotent).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.videolens-installed
OUT    ?= videolens-out

.PHONY: setup system run test bench clean

setup: system $(STAMP)

# System packages the tests use (idempotent): espeak-ng synthesises speech with known timing for the speech tests.
system:
	@command -v espeak-ng >/dev/null || (apt-get update -qq && apt-get install -y -qq espeak-ng) \
		|| echo "warning: could not install espeak-ng; the speech tests that need it will skip (fail with CI=true)"

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

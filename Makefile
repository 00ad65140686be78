# Quick start: `make run` (set-up, data, training if no model, recognition) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
MODEL  ?= models/chars74k_cnn.h5
STAMP  := $(VENV)/.installed
RAY_STAMP := $(VENV)/.installed-ray
# Debian fonts for the synthetic plates (kept equal to plateocr.synth.FONT_PACKAGES; a test checks).
FONT_PACKAGES := fonts-opendin fonts-roboto-unhinted fonts-liberation fonts-urw-base35 fonts-dejavu-core

.PHONY: run venv ray fonts data model retrain test test-fast bench bench-deps check clean

run: model
	$(BIN)/python recognize_plates.py --model $(MODEL)

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# The optional Ray engine and Parquet output (requirements-ray.txt); the tests exercise them.
ray: $(RAY_STAMP)

$(RAY_STAMP): requirements-ray.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-ray.txt
	touch $@

# Installs the fonts with apt-get (as root) only when one is missing.
fonts:
	@dpkg -s $(FONT_PACKAGES) >/dev/null 2>&1 || { \
	  echo "installing fonts: $(FONT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(FONT_PACKAGES); }

data: venv
	$(BIN)/python prepare_data.py

# Trains only when no model exists; `make retrain` (or train_cnn.py) to force.
model: data fonts
	test -f $(MODEL) || $(BIN)/python train_cnn.py --out $(MODEL)

retrain: data fonts
	$(BIN)/python train_cnn.py --out $(MODEL)

test: venv ray fonts
	$(BIN)/python -m pytest tests -q

test-fast: venv ray fonts
	$(BIN)/python -m pytest tests -q -m "not slow"

SYNTH_TEST := data/synthetic_test

# The generated test set (seed 2026; never used for training).
$(SYNTH_TEST)/manifest.csv: | venv fonts
	$(BIN)/python bench/testset.py --out $(SYNTH_TEST) --count 200 --seed 2026

# Benchmark-only peers: Debian's Tesseract and RapidOCR (models inside the wheel, no downloads at run time).
bench-deps: venv
	command -v tesseract >/dev/null || { apt-get update -qq && apt-get install -y -qq tesseract-ocr; }
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-bench.txt

# Figures, not assertions: training cost, hits, timings, batching gain, --jobs speed-up, Ray and memory, peers.
bench: model bench-deps ray $(SYNTH_TEST)/manifest.csv
	$(BIN)/python bench/bench.py --model $(MODEL)
	$(BIN)/python bench/jobs_bench.py --model $(MODEL) --repeat 3
	$(BIN)/python bench/scale_bench.py --model $(MODEL) --repeat 2
	$(BIN)/python bench/peers.py --model $(MODEL)

check: test

clean:
	rm -rf $(VENV) models LicenseResults.txt .pytest_cache

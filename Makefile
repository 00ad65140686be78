# Quick start: `make run` (set-up, data, training if no model, recognition) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
MODEL  ?= models/chars74k_cnn.h5
STAMP  := $(VENV)/.installed

.PHONY: run venv data model retrain test test-fast bench check clean

run: model
	$(BIN)/python recognize_plates.py --model $(MODEL)

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

data: venv
	$(BIN)/python prepare_data.py

# Trains only when no model exists; `make retrain` (or train_cnn.py) to force.
model: data
	test -f $(MODEL) || $(BIN)/python train_cnn.py --out $(MODEL)

retrain: data
	$(BIN)/python train_cnn.py --out $(MODEL)

test: venv
	$(BIN)/python -m pytest tests -q

test-fast: venv
	$(BIN)/python -m pytest tests -q -m "not slow"

bench: model
	$(BIN)/python bench/bench.py --model $(MODEL)

check: test

clean:
	rm -rf $(VENV) models LicenseResults.txt .pytest_cache

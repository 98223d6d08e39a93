# Two commands on a fresh machine: `make demo` and `make test`. Both call `make setup`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PYTHON := $(VENV)/bin/python
CDK    := npx --no-install cdk
PYTEST_ARGS ?=
# deploy, status, destroy: the -c settings of CDK_ARGS and CONCURRENCY= (accounts at once).
CLASSROOM_ARGS = $(if $(CONCURRENCY),--concurrency "$(CONCURRENCY)") $(CDK_ARGS)

# jsii prints an end-of-life banner for Node 20 on every synth.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# The CDK CLI must find the virtualenv's python for `app` in cdk.json.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help setup demo test format synth diff deploy status destroy workshop-template bootstrap results bench smoke

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(VENV)/.installed $(VENV)/checkov/.installed node_modules/.installed ## Build .venv/ and node_modules/ from the pinned requirements

$(VENV)/.installed: requirements.txt requirements-dev.txt packaging/pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e packaging
	touch $@

$(VENV)/checkov/.installed: requirements-checkov.txt
	python3 -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup ## Run the workshop pipeline end to end on a local AWS emulator (no AWS account; ARGS="--work DIR" keeps the files)
	$(PYTHON) -m demo $(ARGS)

test: setup ## Run every test (what CI runs)
	$(PYTHON) -m pytest $(PYTEST_ARGS)

format: setup ## Apply the one code style and the safe lint fixes (make test checks both)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

synth: setup ## Synthesize the stacks into cdk.out/ (offline, no credentials; CDK_ARGS="-c ..." for overrides)
	$(CDK) synth --quiet $(CDK_ARGS)

diff: setup ## Compare the stacks with what is deployed
	$(CDK) diff $(CDK_ARGS)

deploy: setup ## Deploy to every configured account, in parallel (CONCURRENCY=N, CDK_ARGS="-c ...")
	$(PYTHON) -m classroom deploy --cdk "$(CDK)" $(CLASSROOM_ARGS)

status: setup ## One row per configured account: stack, bucket, quotas, last build and run, dashboard
	$(PYTHON) -m classroom status $(CLASSROOM_ARGS)

destroy: setup ## Delete the stack in every configured account (asks once; FORCE=1 does not ask)
	$(PYTHON) -m classroom destroy --cdk "$(CDK)" $(if $(FORCE),--force) $(CLASSROOM_ARGS)

workshop-template: setup ## Write dist/workshop/: a template with no CDK bootstrap, its assets, a contentspec
	$(PYTHON) -m stacks.workshop_template $(CDK_ARGS)

bootstrap: setup ## Bootstrap CDK in the target account(s)
	$(CDK) bootstrap $(CDK_ARGS)

smoke: setup ## After a deploy, with AWS credentials: upload a tiny archive, wait for its manifest (STACK= REGION= TIMEOUT= FORCE=1)
	$(PYTHON) tests/fidelity/smoke.py $(if $(STACK),--stack "$(STACK)") $(if $(REGION),--region "$(REGION)") $(if $(TIMEOUT),--timeout "$(TIMEOUT)") $(if $(FORCE),--force)

results: setup ## Accuracy by epoch of a training job: make results JOB=<job name, ARN or report.json> [OUT=plot.png] (default: results/JOB-accuracy.png)
	$(PYTHON) -m stacks.training.results "$(JOB)" $(if $(OUT),--out "$(OUT)") $(ARGS)

bench: setup ## Time im2rec.py against recpack pack, print the table (BENCH_ARGS="--images 5000 --repeat 5")
	$(PYTHON) bench/bench_pack.py $(BENCH_ARGS)

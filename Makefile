# make run: start the app.  make test: run the whole test suite.  Each sets itself up.
# make run ARGS="--server.port 80" passes Streamlit options.
# make serve-replicas N=2 PORT=8600: N copies behind Debian's nginx at PORT, sharing Debian's redis-server, for a
# school (docs/deploy.md). A replica that stops is started again; Ctrl-C stops them all.
# make test-fast: the inner loop, under 30 s (no MNIST, no browser, no whole-app AppTest, no process that
# imports torch: the markers mnist, browser, app and process).  make lint: ruff.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: run serve-replicas nginx redis test test-fast lint data bench checkpoints screenshots clean

$(VENV)/.app: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.app
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.app
	$(PY) -m deploy.serve $(ARGS)

N    ?= 2
PORT ?= 8600
serve-replicas: $(VENV)/.app nginx redis
	$(PY) -m deploy.replicas --replicas $(N) --port $(PORT)

# Debian's nginx, installed if missing (as .ci/run does): only its binary is used, with deploy/nginx.conf.
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q nginx; else sudo apt-get install -y -q nginx; fi; }

# Debian's redis-server, installed if missing (as .ci/run does): run in the foreground on a port of its own,
# saving nothing (deploy/redis.py); the system's own redis service is not used. Not needed with REDIS_URL set.
redis:
	@test -n "$$REDIS_URL" || command -v redis-server >/dev/null || test -x /usr/bin/redis-server || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q redis-server; else sudo apt-get install -y -q redis-server; fi; }

data: $(VENV)/.app
	$(PY) -m lenet data

test: $(VENV)/.dev data
	$(PY) -m pytest

test-fast: $(VENV)/.dev
	$(PY) -m pytest -m "not mnist and not browser and not app and not process"

lint: $(VENV)/.dev
	$(PY) -m ruff check .

bench: $(VENV)/.dev data
	$(PY) -m bench.train_speed
	$(PY) -m bench.drawings
	$(PY) -m bench.browser
	$(PY) -m bench.threads

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

checkpoints: $(VENV)/.app data
	$(PY) -m lenet train --model lenet5 --epochs 12 --augment --lr 1e-2 --out checkpoints/lenet5.pt
	$(PY) -m lenet train --model lenet5-classic --epochs 12 --augment --lr 5e-3 --out checkpoints/lenet5-classic.pt
	$(PY) -m lenet train --model mlp --epochs 20 --augment --lr 3e-3 --out checkpoints/mlp.pt

screenshots: $(VENV)/.dev
	LENET_SHOTS=docs/screenshots $(PY) -m pytest tests/browser

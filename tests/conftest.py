import os

import pytest
from hypothesis import HealthCheck, settings

import tinygrad_cnn as tg
from tinygrad_cnn.testing import gpu_code_paths

# Modest example counts in CI, more locally; HYPOTHESIS_PROFILE=thorough for a long run.
settings.register_profile("ci", max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
settings.register_profile("thorough", max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

DEVICES = [
    "cpu",
    "cpu-with-gpu-code-paths",
    pytest.param("cuda", marks=pytest.mark.skipif(not tg.cuda.is_available(),
                                                  reason="CUDA cases skipped: CuPy or an NVIDIA GPU is absent")),
]


@pytest.fixture(params=DEVICES)
def device(request):
    """Each test that takes ``device`` runs on the CPU, on the CPU again along the code paths the
    primitives take on a GPU (so their logic is checked where no GPU is), and on CUDA where a GPU
    is present."""
    if request.param == "cpu-with-gpu-code-paths":
        with gpu_code_paths():
            yield "cpu"
    else:
        yield request.param


@pytest.fixture(autouse=True)
def _seed():
    tg.manual_seed(0)

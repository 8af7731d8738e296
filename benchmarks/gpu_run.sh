#!/usr/bin/env bash
# One prepared run on a machine with an NVIDIA GPU: the whole test suite (CUDA cases included),
# the LeNet-5 benchmark against PyTorch CUDA, the im2col and col2im comparisons and the array-operation count. Results go to $OUT (or ./gpu-results).
# Packages the GPU machine lacks (graphviz's Python package) may be carried as wheels in .whl/.
set -u
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HYPOTHESIS_PROFILE=ci PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import cupy, numpy, tinygrad_cnn as tg; print('cupy', cupy.__version__, 'numpy', numpy.__version__, 'cuda available', tg.cuda.is_available())" | tee -a "$OUT/gpu.txt"
timeout 330 python3 -m pytest -q -p no:cacheprovider -p no:warnings -rs tests/ 2>&1 | tee "$OUT/tests.log" | tail -25
timeout 150 python3 benchmarks/lenet.py --device cuda --steps 30 --no-memory --json "$OUT/lenet_cuda.json" 2>&1 | tee "$OUT/lenet_cuda.txt"
timeout 60 python3 benchmarks/gpu_im2col.py 2>&1 | tee "$OUT/im2col.txt"
timeout 60 python3 benchmarks/gpu_col2im.py 2>&1 | tee "$OUT/col2im.txt"
timeout 60 python3 benchmarks/array_ops.py 2>&1 | tee "$OUT/array_ops.txt"

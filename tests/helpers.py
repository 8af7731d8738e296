"""Shared test helpers: PyTorch as the oracle, gradcheck on float64 inputs, the GPU's code paths on the CPU."""
import contextlib
import io
import urllib.error

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn.testing import gpu_code_paths, gradcheck, gradgradcheck

try:
    import torch
except ImportError:  # the comparisons skip, with their reason shown in the summary
    torch = None

requires_torch = pytest.mark.skipif(
    torch is None, reason="PyTorch is not installed, so comparisons with it are skipped (pip install torch==2.13.0)")


# For property tests (where a function-scoped fixture would span all examples): run once along
# the CPU's code paths and once along the GPU's, inside ``with code_paths(paths):``.
both_code_paths = pytest.mark.parametrize("paths", ["cpu", "gpu"], ids=["cpu-code-paths", "gpu-code-paths"])


def code_paths(paths):
    return gpu_code_paths() if paths == "gpu" else contextlib.nullcontext()


both_conv_layouts = pytest.mark.parametrize("layout", ["rows", "columns"])


@contextlib.contextmanager
def conv_layout(layout):
    """Recorded convs on the CPU in the "columns" layout (batch-last windows) from one image on, or
    never: the geometries under test have small batches, under F.BATCH_LAST_FROM."""
    functional = tg.nn.functional
    saved = functional.BATCH_LAST_FROM
    functional.BATCH_LAST_FROM = 1 if layout == "columns" else 2 ** 62
    try:
        yield
    finally:
        functional.BATCH_LAST_FROM = saved


def tg_inputs(arrays, device="cpu", requires_grad=True):
    return [tg.tensor(a, dtype=tg.float64, device=device, requires_grad=requires_grad) for a in arrays]


def to_numpy(x):
    return x.detach().cpu().numpy()


def check_gradients(fn, arrays, device="cpu", second_order=False, atol=1e-5, rtol=1e-3):
    """Autograd's vector-Jacobian product of ``fn`` matches central differences (and the second derivative)."""
    inputs = tg_inputs(arrays, device)
    assert gradcheck(fn, inputs, atol=atol, rtol=rtol)
    if second_order:
        assert gradgradcheck(fn, inputs, atol=atol, rtol=rtol)


def compare_with_torch(fn, torch_fn, arrays, device="cpu", dtype=np.float64, atol=1e-6, rtol=1e-5, seed=0):
    """Forward values and input gradients (under a random upstream gradient) equal PyTorch's."""
    if torch is None:
        pytest.skip("PyTorch is not installed, so comparisons with it are skipped (pip install torch==2.13.0)")
    arrays = [np.asarray(a, dtype=dtype) for a in arrays]
    ours = [tg.tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = fn(*ours), torch_fn(*theirs)
    assert tuple(out.shape) == tuple(expected.shape), (out.shape, expected.shape)
    np.testing.assert_allclose(to_numpy(out), expected.detach().numpy(), atol=atol, rtol=rtol)
    upstream = np.random.default_rng(seed).standard_normal(expected.shape).astype(dtype)
    out.backward(tg.tensor(upstream, device=device))
    expected.backward(torch.tensor(upstream))
    for x, t in zip(ours, theirs):
        if t.grad is None:
            assert x.grad is None or not np.any(to_numpy(x.grad))
        else:
            np.testing.assert_allclose(to_numpy(x.grad), t.grad.numpy(), atol=atol, rtol=rtol)
    return out


class FakeResponse(io.BytesIO):
    """What ``urllib.request.urlopen`` returns, serving bytes from memory (no network in tests)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def first_mirror_down(payload):
    """An ``opener`` for the download functions whose first URL fails and every later one serves
    ``payload``; the URLs it was asked for collect in its ``calls``."""
    def opener(url, timeout):
        opener.calls.append(url)
        if len(opener.calls) == 1:
            raise urllib.error.URLError("first mirror down")
        return FakeResponse(payload)
    opener.calls = []
    return opener

"""tg.compile: a recorded step replays to exactly what eager execution computes (every loss, parameter,
gradient, buffer and optimizer state, bit for bit), records again where a guard changes, and stays eager,
with a warning, where a replay cannot repeat the call."""
import copy
import re
import warnings

import numpy as np
import pytest

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn, optim
from tinygrad_cnn.compile import CompiledFunction
from tinygrad_cnn.models import LeNet5, resnet8
from tinygrad_cnn.viz import draw_graph
from tinygrad_cnn.viz.program import describe_program

from .helpers import requires_torch, torch


def _training(model_name, optimizer="sgd"):
    tg.manual_seed(0)
    model = {"lenet": LeNet5, "lenet-bn": lambda: LeNet5(batch_norm=True),
             "resnet8": lambda: resnet8(dropout=0.3), "resnet8-no-dropout": lambda: resnet8()}[model_name]()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4) if optimizer == "sgd" else \
        optim.Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()
    return model, opt, step


def _batches(shape, count, seed=1):
    tg.manual_seed(seed)
    return [(tg.randn(*shape), tg.randint(0, 10, (shape[0],))) for _ in range(count)]


def _state(model, opt):
    """Everything a step changes, as NumPy arrays."""
    arrays = [t.detach().numpy().copy() for t in model.state_dict().values()]
    arrays += [p.grad.numpy().copy() for p in model.parameters()]
    for p in model.parameters():
        arrays += [np.asarray(v).copy() for _, v in sorted(opt.state[p].items())]
    return arrays


@pytest.mark.parametrize("model_name, shape, optimizer", [
    ("lenet", (8, 1, 28, 28), "sgd"), ("lenet-bn", (8, 1, 28, 28), "adam"), ("resnet8", (8, 3, 32, 32), "sgd")])
def test_a_compiled_training_step_equals_eager_execution_bit_for_bit(model_name, shape, optimizer):
    batches = _batches(shape, 5)
    model, opt, step = _training(model_name, optimizer)  # (dropout draws from the global generator: eager
    expected = [(step(x, y).numpy(), _state(model, opt)) for x, y in batches]  # first, then the same draws)
    model, opt, step = _training(model_name, optimizer)
    compiled = tg.compile(step)
    for (x, y), (loss, state) in zip(batches, expected):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # recorded, proven and replayed: never eager with a warning
            got = compiled(x, y)
        np.testing.assert_array_equal(got.numpy(), loss)
        for a, b in zip(_state(model, opt), state):
            np.testing.assert_array_equal(a, b)  # parameters, buffers, gradients, optimizer state
    entry = compiled.cache[next(iter(compiled.cache))][0]
    assert compiled.records == 1 and entry.proven and entry.program is not None


def test_a_changed_guard_records_again():
    model, opt, step = _training("lenet")
    compiled = tg.compile(step)
    for x, y in _batches((4, 1, 28, 28), 3) + _batches((6, 1, 28, 28), 3):  # a new batch size: a new recording
        compiled(x, y)
    assert compiled.records == 2
    model.eval()  # eval mode: another recording (dropout, batch norm behave otherwise)
    compiled(*_batches((4, 1, 28, 28), 1)[0])
    assert compiled.records == 3
    model.train()
    compiled(*_batches((4, 1, 28, 28), 1)[0])  # back to training: the first recording again
    assert compiled.records == 3
    model.fc2.weight.requires_grad_(False)  # a frozen layer changes the graph: records again
    compiled(*_batches((4, 1, 28, 28), 1)[0])
    assert compiled.records == 4


SCALE = 1.0  # a global the function below reads: a recording bakes its value in, so it is a guard


def test_a_changed_global_or_closure_value_records_again():
    """As torch.compile guards the globals and closure variables it reads: a replay must not keep using
    a value that has changed since the recording (it did: the old value, silently)."""
    global SCALE

    def make():
        use_bias, bias = False, tg.ones(3)

        def f(x):
            out = x * SCALE
            return out + bias if use_bias else out  # a closure variable steers a branch

        def set_use_bias(value):
            nonlocal use_bias
            use_bias = value
        return f, set_use_bias
    x = tg.tensor([1.0, 2.0, 3.0])
    f, set_use_bias = make()
    compiled = tg.compile(f)
    try:
        for _ in range(3):  # recorded, proven, replayed
            np.testing.assert_array_equal(compiled(x).numpy(), [1.0, 2.0, 3.0])
        SCALE = 5.0
        for _ in range(3):
            np.testing.assert_array_equal(compiled(x).numpy(), [5.0, 10.0, 15.0])
        set_use_bias(True)
        for _ in range(3):
            np.testing.assert_array_equal(compiled(x).numpy(), [6.0, 11.0, 16.0])
        SCALE = 1.0
        set_use_bias(False)
        np.testing.assert_array_equal(compiled(x).numpy(), [1.0, 2.0, 3.0])
        assert compiled.records == 3  # the first recording serves again
    finally:
        SCALE = 1.0


def test_globals_are_guards_by_how_the_code_loads_them():
    """A global loop counter named like an attribute the function calls (``for step in ...`` beside
    ``opt.step()``) is no guard (defined before ``tg.compile``, it made every call record again); a
    global defined only after ``tg.compile`` is one (it was left out)."""
    namespace = {}
    exec("def f(x, counter):\n    counter.step()\n    return x * LATER\n", namespace)
    compiled = tg.compile(namespace["f"])

    class Counter:
        def step(self):
            pass
    x, counter = tg.ones(2), Counter()
    namespace["LATER"] = 2.0
    for step in range(20):
        namespace["step"] = step
        np.testing.assert_array_equal(compiled(x, counter).numpy(), [2.0, 2.0])
    assert compiled.records == 1 and not compiled.gave_up
    namespace["LATER"] = 3.0
    np.testing.assert_array_equal(compiled(x, counter).numpy(), [3.0, 3.0])


def test_a_changed_module_attribute_records_again():
    """A module's plain attributes (dropout's p, a slope, batch norm's momentum) are baked into a
    recording, so they are guards, as the train/eval mode is."""
    model = nn.Sequential(nn.Linear(3, 3), nn.LeakyReLU(0.1), nn.Dropout(0.0))
    compiled = tg.compile(model)
    x = tg.tensor([[-1.0, 2.0, -3.0]])
    for slope, p in ((0.1, 0.0), (0.5, 0.0), (0.5, 1.0)):
        model[1].negative_slope, model[2].p = slope, p
        with tg.no_grad():
            expected = model(x).numpy()
            for _ in range(3):
                np.testing.assert_array_equal(compiled(x).numpy(), expected)
    assert compiled.compiled.records == 3


def test_a_call_that_changes_its_arguments_replays_on_each_calls_own():
    """An argument changed in place, and a gradient with respect to an argument (a saliency map, an
    adversarial step), go to each call's own tensors. Before: the proof ran eager execution on the
    argument the replay had already doubled (returning a wrong value for that call), and a replay
    added the gradient into the first call's tensor; both stayed eager with a warning."""
    def doubled(x):
        x.mul_(2.0)
        return (x + 1.0).sum()

    def gradient(x):
        loss = (x * x).sum()
        loss.backward()
        return loss.detach()
    for fn in (doubled, gradient):
        compiled = tg.compile(fn)
        for seed in range(4):
            tg.manual_seed(seed)
            x = tg.randn(5)
            mine, theirs = (x.clone().requires_grad_(fn is gradient) for _ in range(2))
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                np.testing.assert_array_equal(compiled(mine).numpy(), fn(theirs).numpy())
            np.testing.assert_array_equal(mine.detach().numpy(), theirs.detach().numpy())
            if fn is gradient:
                np.testing.assert_array_equal(mine.grad.numpy(), theirs.grad.numpy())
        assert compiled.cache[next(iter(compiled.cache))][0].program is not None


def test_a_step_that_sets_train_mode_itself_is_kept_for_the_mode_before_it():
    """``model.train()`` inside the step, ``model.eval()`` between epochs: two recordings serve every
    epoch (the guard compared the mode before a call with the mode after the recording, so each epoch's
    first step recorded again, until tg.compile gave up after 16)."""
    results = []
    for compiled in (True, False):
        model, opt, _ = _training("lenet-bn")

        def step(x, y):
            model.train()
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
        run = tg.compile(step) if compiled else step
        outputs = []
        for epoch in range(5):
            outputs += [run(x, y).detach().numpy() for x, y in _batches((4, 1, 28, 28), 2, seed=epoch)]
            model.eval()
            with tg.no_grad():
                outputs.append(model(_batches((4, 1, 28, 28), 1)[0][0]).numpy())
        results.append(outputs)
        if compiled:
            assert run.records == 2 and not run.gave_up
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_inference_compiles_a_model():
    tg.manual_seed(0)
    model = resnet8().eval()
    compiled = tg.compile(model)
    for x, _ in _batches((3, 3, 32, 32), 4):
        with tg.no_grad():
            np.testing.assert_array_equal(compiled(x).numpy(), model(x).numpy())
    assert compiled.compiled.records == 1


def test_a_compiled_module_is_a_module_as_pytorchs_optimized_module():
    """tg.compile(module) returns an OptimizedModule, as torch.compile does: the original is its
    ``_orig_mod`` (parameter names and state_dict keys start with it), train/eval reach it, other
    attributes are read from it, and its calls run the compiled forward."""
    tg.manual_seed(0)
    model = LeNet5()
    compiled = tg.compile(model)
    assert isinstance(compiled, nn.Module) and compiled._orig_mod is model
    assert list(compiled.state_dict()) == ["_orig_mod." + key for key in model.state_dict()]
    assert [p for p in compiled.parameters()] == [p for p in model.parameters()]
    assert compiled.fc1 is model.fc1 and compiled.conv1.out_channels == 20
    compiled.eval()
    assert not model.training
    x = tg.randn(2, 1, 28, 28)
    with tg.no_grad():
        for _ in range(3):
            np.testing.assert_array_equal(compiled(x).numpy(), model(x).numpy())
    assert compiled.compiled.records == 1 and draw_graph(compiled) is not None
    twin = copy.deepcopy(compiled)  # (an attribute looked up before _orig_mod is set must not recurse)
    assert twin._orig_mod is not model and twin.compiled.fn is twin._orig_mod
    with pytest.raises(AttributeError, match="'LeNet5' object has no attribute 'nothing'"):
        compiled.nothing


def test_pytorchs_compile_arguments_are_taken_and_checked_as_pytorch_does():
    model = LeNet5()
    assert tg.compile(model, disable=True) is model
    for kwargs in (dict(mode="max-autotune"), dict(mode="reduce-overhead", fullgraph=True, dynamic=False),
                   dict(backend="eager"), dict(options={"triton.cudagraphs": False}, name="lenet")):
        assert isinstance(tg.compile(model, **kwargs), nn.Module)
    with pytest.raises(RuntimeError, match="Unrecognized mode=fast, should be one of: default, lite"):
        tg.compile(model, mode="fast")
    with pytest.raises(RuntimeError, match="Either mode or options can be specified"):
        tg.compile(model, mode="default", options={})
    with pytest.raises(RuntimeError, match="Invalid backend: 'tensorrt'"):
        tg.compile(model, backend="tensorrt")
    with pytest.raises(NotImplementedError, match="torch.fx graph"):
        tg.compile(model, backend=lambda graph, inputs: graph)

    @tg.compile(mode="max-autotune")
    def double(x):
        return x * 2
    assert double(tg.ones(2)).tolist() == [2.0, 2.0] and isinstance(double, CompiledFunction)


@requires_torch
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # (torch's own, on importing its compiler)
def test_a_compiled_modules_names_and_errors_are_pytorchs():
    ours, theirs = tg.compile(nn.Sequential(nn.Linear(2, 3))), torch.compile(torch.nn.Sequential(torch.nn.Linear(2, 3)))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["_orig_mod.0.weight", "_orig_mod.0.bias"]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for kwargs in (dict(mode="fast"), dict(mode="default", options={})):
        with pytest.raises(RuntimeError) as mine:
            tg.compile(ours, **kwargs)
        with pytest.raises(RuntimeError) as pytorchs:
            torch.compile(theirs, **kwargs)
        assert str(mine.value) == str(pytorchs.value)


def test_fullgraph_raises_where_a_call_would_stay_eager():
    model, opt, step = _training("lenet")

    def step_with_item(x, y):
        return step(x, y).item()
    strict = tg.compile(step_with_item, fullgraph=True)
    with pytest.raises(RuntimeError, match="reads a tensor's value into Python.*fullgraph=True"):
        strict(*_batches((4, 1, 28, 28), 1)[0])


def test_a_forward_that_needs_its_graph_stays_eager_and_says_why():
    model = LeNet5()
    compiled = tg.compile(model)
    x = tg.randn(2, 1, 28, 28)
    with pytest.warns(UserWarning, match="needs its graph"):
        out = compiled(x)
    out.sum().backward()  # eager: the graph is there
    assert model.conv1.weight.grad is not None
    assert compiled(x).creator is not None  # and stays eager


def test_a_step_that_returns_its_loss_undetached_and_clips_its_gradients_compiles():
    """``return loss`` after ``loss.backward()`` (most PyTorch training steps): the loss's graph was used
    inside the call, so the replay returns its value (the call stayed eager, saying it needed its graph).
    ``clip_grad_norm_`` computes its factor again at each replay (it was baked in: the proof caught it)."""
    results = []
    for compiled in (True, False):
        model, opt, _ = _training("lenet")

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
            return loss
        run = tg.compile(step) if compiled else step
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            losses = [run(x, y).detach().numpy() for x, y in _batches((4, 1, 28, 28), 4)]
        results.append((losses, _state(model, opt)))
        if compiled:
            assert run.records == 1 and run.cache[next(iter(run.cache))][0].program is not None
    for a, b in zip(results[0][0] + results[0][1], results[1][0] + results[1][1]):
        np.testing.assert_array_equal(a, b)


def test_values_computed_from_the_data_are_computed_again_at_each_replay():
    """one_hot, sort, argsort, topk, an embedding's padding rows, max pooling's indices, all/any: arrays
    computed from the inputs' values outside the primitives (each was baked in as recorded, and the
    proof kept the calls eager)."""
    embedding = nn.Embedding(10, 3, padding_idx=0)

    @tg.no_grad()
    def f(x, labels):
        _, pooled = F.max_pool2d(x, 2, return_indices=True)
        top, top_index = x.flatten(1).topk(3)
        ordered, order = x.flatten(1).sort(dim=1, descending=True)
        return (F.one_hot(labels, 10), top, top_index, ordered, order, x.flatten(1).argsort(dim=1),
                embedding(labels), pooled, (x > 0).all(), (x > 2).any(), x.flatten(1).max(dim=1).indices)
    compiled = tg.compile(f)
    for seed in range(4):
        tg.manual_seed(seed)
        x, labels = tg.randn(2, 1, 4, 4), tg.randint(0, 10, (5,))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for a, b in zip(compiled(x, labels), f(x, labels)):
                np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert compiled.records == 1


def test_tensors_made_in_the_call_are_made_again_at_each_replay():
    """Zeros made in the call and then changed in place (add_, x[mask] = v) and random numbers drawn in
    it: each replay makes them afresh, as eager execution does (a changed buffer was replayed with the
    changes of the calls before, and random numbers as first drawn)."""
    def f(x):
        counts, hits = tg.zeros(3), tg.zeros(3)
        counts.add_(x)
        hits[x > 0] = 1.0
        noise = tg.randn(3) * 0.1 + tg.rand(3) + tg.randint(0, 5, (3,)).float() + tg.randperm(3).float()
        return counts * 2.0 + hits + noise + tg.tensor([1.0, 2.0, 3.0]) + x.new_ones(3)
    compiled = tg.compile(f)
    for seed in range(5):
        x = tg.tensor([1.0, -1.0, seed % 2 - 0.5])
        results = []
        for run in (compiled, f):
            tg.manual_seed(seed)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                results.append(run(x).numpy())
        np.testing.assert_array_equal(*results)
    assert compiled.records == 1


def test_a_call_that_changes_a_constant_in_place_stays_eager():
    """The safety net: an array the tape knows only as a constant (neither computed in the call nor read
    from a tensor), changed in place, would be changed again by every replay."""
    counts = np.zeros(3, np.float32)

    def f(x):
        tg.autograd.computed(np.add, counts, x.array, counts)  # an in-place add into an outside array
        return x * 2.0
    compiled = tg.compile(f)
    with pytest.warns(UserWarning, match="changes in place an array it did not compute"):
        compiled(tg.ones(3))
    assert compiled.cache[next(iter(compiled.cache))][0].program is None


def test_a_compiled_module_inside_a_compiled_function_is_recorded_with_it():
    """``tg.compile(model)`` called inside another compiled function runs eagerly while the outer one
    records, so that the outer program holds its operations (its replay was invisible to the outer
    recording, whose proof then kept it eager)."""
    tg.manual_seed(0)
    model = tg.compile(LeNet5().eval())

    @tg.compile
    def predict(x):
        with tg.no_grad():
            return F.softmax(model(x), dim=1)
    for _ in range(4):
        x = tg.randn(2, 1, 28, 28)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = predict(x).numpy()
        with tg.no_grad():
            np.testing.assert_array_equal(got, F.softmax(model._orig_mod(x), dim=1).numpy())
    assert predict.cache[next(iter(predict.cache))][0].program is not None


def test_keyword_order_and_an_argument_passed_twice_bind_the_right_arrays():
    """``f(y=b, x=a)`` replays a recording of ``f(x=a, y=b)`` with x bound to a (it bound them in call
    order, swapped), and ``f(a, a)`` is a recording of its own (both arguments read one slot, so
    ``f(c, d)`` replayed it with d for x too)."""
    @tg.compile
    def f(x, y):
        return x * 2.0 + y
    a, b, c = tg.tensor([1.0, 2.0]), tg.tensor([10.0, 20.0]), tg.tensor([3.0, 4.0])
    for _ in range(3):
        f(x=a, y=b)
        f(a, a)
    np.testing.assert_array_equal(f(y=b, x=a).numpy(), [12.0, 24.0])
    for _ in range(2):
        np.testing.assert_array_equal(f(c, b).numpy(), [16.0, 28.0])
    assert f.records == 3  # keywords, the same tensor twice, two tensors


def test_a_value_read_into_python_keeps_the_call_eager():
    model, opt, step = _training("lenet")

    def step_with_item(x, y):
        loss = step(x, y)
        return loss * 2 if loss.item() > 100 else loss  # a branch on a value: a replay could not follow it
    compiled = tg.compile(step_with_item)
    batches = _batches((4, 1, 28, 28), 3)
    with pytest.warns(UserWarning, match=r"reads a tensor's value into Python \(item\(\)\)"):
        compiled(*batches[0])
    eager_model, eager_opt, eager_step = _training("lenet")
    eager_step(*batches[0])
    for x, y in batches[1:]:
        np.testing.assert_array_equal(compiled(x, y).numpy(), eager_step(x, y).numpy())


def test_a_replay_that_would_differ_is_caught_by_the_proof_and_stays_eager():
    tg.manual_seed(0)
    layer = nn.Linear(3, 2)
    held = {"x": tg.randn(4, 3)}

    def uses_a_tensor_it_was_not_given():  # reads whatever held["x"] is now: a replay would reuse the first
        return layer(held["x"]).detach()
    compiled = tg.compile(uses_a_tensor_it_was_not_given)
    compiled()
    held["x"] = tg.randn(4, 3)
    with pytest.warns(UserWarning, match="its replay differs from eager execution"):
        out = compiled()
    np.testing.assert_array_equal(out.numpy(), layer(held["x"]).detach().numpy())
    held["x"] = tg.randn(4, 3)
    np.testing.assert_array_equal(compiled().numpy(), layer(held["x"]).detach().numpy())  # eager from now on


def test_memory_planning_frees_each_temporary_after_its_last_use():
    model, opt, step = _training("lenet")
    compiled = tg.compile(step)
    for x, y in _batches((4, 1, 28, 28), 3):
        compiled(x, y)
    program = compiled.cache[next(iter(compiled.cache))][0].program
    freed = sum(len(f) for f in program.free_after)
    computed = sum(1 for b in program.bindings if b is None)
    assert freed >= computed - 1  # every computed array but the returned loss is freed along the way
    kept = tg.compile(step, free_memory=False)
    for x, y in _batches((4, 1, 28, 28), 3):
        kept(x, y)
    assert sum(len(f) for f in kept.cache[next(iter(kept.cache))][0].program.free_after) == 0


def test_a_replay_can_time_each_operation_and_computes_the_same():
    """``Program.replay(arguments, seconds)`` (benchmarks/profile_program.py) adds each operation's time."""
    model = LeNet5().eval()
    compiled = tg.compile(model).compiled
    x = tg.randn(2, 1, 28, 28)
    with tg.no_grad():
        for _ in range(3):
            expected = compiled(x).numpy()
    program = compiled.cache[next(iter(compiled.cache))][0].program
    seconds = [0.0] * len(program.ops)
    np.testing.assert_array_equal(program.replay([x], seconds).numpy(), expected)
    assert all(s >= 0 for s in seconds) and sum(seconds) > 0


def test_the_in_place_pass_runs_chains_in_one_buffer_and_changes_no_number():
    from tinygrad_cnn.compile.passes import InPlace
    batches = _batches((4, 1, 28, 28), 4)
    results = []
    for in_place in (True, False):
        model, opt, step = _training("lenet-bn")
        compiled = tg.compile(step, in_place=in_place)
        losses = [compiled(x, y).numpy() for x, y in batches]
        program = compiled.cache[next(iter(compiled.cache))][0].program
        results.append((losses, _state(model, opt), sum(isinstance(op, InPlace) for op in program.ops)))
    (losses, state, count), (plain_losses, plain_state, plain_count) = results
    assert count >= 20 and plain_count == 0  # batch norm's x * alpha + beta, the conv's bias, their gradients
    for a, b in zip(losses + state, plain_losses + plain_state):
        np.testing.assert_array_equal(a, b)


def test_the_in_place_pass_keeps_the_memory_layout_eager_execution_gives_a_result():
    """An operand laid out otherwise than eager execution lays the result out (a column-major view, where
    NumPy makes a row-major product) is not overwritten: a matrix product reading it would sum in another
    order (ResNet-8's dropout before its linear layer, at batch 8, differed from eager execution so)."""
    from tinygrad_cnn.compile.passes import InPlace
    w = tg.randn(10, 64)

    def f(x, m):
        h = (x * 2.0).t()  # a column-major view of a temporary that dies at the product below
        return (h * m) @ w.t()
    compiled = tg.compile(f)
    for seed in range(3):
        tg.manual_seed(seed)
        x, m = tg.randn(64, 8), tg.randn(8, 64)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.testing.assert_array_equal(compiled(x, m).numpy(), f(x, m).numpy())
    program = compiled.cache[next(iter(compiled.cache))][0].program
    assert not any(isinstance(op, InPlace) and type(op.fn).__name__ == "Mul" and op.target == op.call.args[0]
                   for op in program.ops)


def test_windows_that_are_the_image_itself_keep_the_image_from_being_overwritten():
    """A 1x1 stride-1 conv's windows over a channels-last image are that image's memory (im2col has
    nothing to copy), seen through ``as_strided``, whose view's base is no array: the tape must still
    count them as the image's buffer, or the in-place pass writes into the image while the weight
    gradient has yet to read the windows (the proof caught that, and the step stayed eager)."""
    first, conv = nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.Conv2d(4, 4, 1, bias=False)

    def f(x):
        h = first(x) * 1.0  # channels-last memory, as a conv's output is
        loss = (conv(h) * (h * 2.0)).sum()  # h * 2.0 is h's last reader but for the windows
        loss.backward()
        return loss.detach()
    compiled = tg.compile(f)
    for seed in range(4):
        tg.manual_seed(seed)
        x = tg.randn(2, 3, 5, 5)
        results = []
        for run in (compiled, f):
            first.weight.grad = conv.weight.grad = None
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                results.append([run(x).numpy(), first.weight.grad.numpy(), conv.weight.grad.numpy()])
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)
    assert compiled.cache[next(iter(compiled.cache))][0].program is not None


def test_an_argument_laid_out_otherwise_records_again():
    """The strides of a tensor argument are a guard (as torch.compile's): operations lay their results
    out after their operands, and the in-place pass chose its buffers for the recorded layout. A
    column-major argument replayed on a row-major recording summed a product in another order than
    eager execution (5 calls in 5 differed)."""
    tg.manual_seed(0)
    w, m = tg.randn(10, 1000), tg.randn(8, 1000)

    def f(x):
        return (x * 2.0 * m) @ w.t()
    compiled = tg.compile(f)
    rng = np.random.default_rng(0)
    for _ in range(3):
        compiled(tg.tensor(rng.standard_normal((8, 1000)).astype(np.float32)))
    for _ in range(4):
        x = tg.tensor(rng.standard_normal((1000, 8)).astype(np.float32)).t()  # column-major
        np.testing.assert_array_equal(compiled(x).numpy(), f(x).numpy())
    assert compiled.records == 2


def test_an_array_at_the_id_of_a_freed_one_is_another_buffer():
    """The tape numbers memory by the id of the array that owns it; an id comes again once its array is
    freed, and the new array must get a number of its own (it got the next new array's number, so the
    in-place pass saw two buffers as one and left out 77 of the 175 operations ResNet-8's step runs in
    place)."""
    from tinygrad_cnn.compile.tape import Tape
    tape = Tape([])
    kept = np.zeros(3)
    slots = [tape.read(kept)]
    temporary = np.zeros(4)
    freed_id = id(temporary)
    slots.append(tape._result(temporary))  # as an operation's result: held weakly, as the tape holds them
    del temporary
    alive = [np.zeros(5) for _ in range(100)]  # CPython gives a freed array's memory to a new one
    again = next((a for a in alive if id(a) == freed_id), None)
    if again is None:
        pytest.skip("this Python gave no new array the id of the freed one")
    slots += [tape._result(again), tape._result(np.zeros(6))]
    buffers = [tape.facts[s].buffer for s in slots]
    assert len(set(buffers)) == 4, buffers


def test_rematerializing_holds_images_instead_of_windows_and_changes_no_number():
    """rematerialize=True: each conv's windows are let go after the forward product and computed again
    from the image for the weight gradient; the numbers stay eager execution's, bit for bit, and a
    replay holds far fewer bytes at its peak."""
    import tracemalloc
    batches = _batches((8, 3, 32, 32), 4)
    model, opt, step = _training("resnet8-no-dropout")
    expected = [(step(x, y).numpy(), _state(model, opt)) for x, y in batches]
    results = {}
    for remat in (False, True):
        model, opt, step = _training("resnet8-no-dropout")
        compiled = tg.compile(step, rematerialize=remat)
        for (x, y), (loss, state) in zip(batches, expected):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                np.testing.assert_array_equal(compiled(x, y).numpy(), loss)
            for a, b in zip(_state(model, opt), state):
                np.testing.assert_array_equal(a, b)
        program = compiled.cache[next(iter(compiled.cache))][0].program
        tracemalloc.start()
        alive = tracemalloc.get_traced_memory()[0]
        compiled(*batches[0])
        peak = tracemalloc.get_traced_memory()[1] - alive
        tracemalloc.stop()
        windows = [place[0] for op, place in zip(program.ops, program.places)
                   if type(getattr(op, "fn", None)).__name__ == "Im2Col"]
        results[remat] = (windows.count("forward"), len(windows), peak)
        again = [node.name for node in describe_program(compiled, model=model).nodes if node.name.endswith("(again)")]
        assert again.count("im2col (again)") == (9 if remat else 0)  # the drawing says which ones run twice
        assert set(again) <= {"im2col (again)", "reshape (again)"}  # (with the view the product reads)
    (forward, windows, peak), (forward_remat, windows_remat, peak_remat) = results[False], results[True]
    assert forward == forward_remat == 10  # 9 convs' and the average pool's (whose backward reads no windows)
    assert windows_remat == windows + 9  # each conv's im2col once more, in the backward pass
    assert peak_remat < 0.6 * peak, (peak_remat, peak)


def test_a_compiled_step_draws_as_the_program_it_replays():
    pytest.importorskip("graphviz")
    model, opt, step = _training("lenet-bn")
    compiled = tg.compile(step)
    with pytest.raises(ValueError, match="has no program yet"):
        draw_graph(compiled)
    for x, y in _batches((4, 1, 28, 28), 3):
        compiled(x, y)
    collapsed = draw_graph(compiled, model=model, group_composites="collapse").source
    for group in ("Conv2d conv1", "BatchNorm2d bn2, backward", "gradients into .grad", "optimizer"):
        assert f"<b>{group}</b>" in collapsed
    assert "in place" in collapsed and "MB allocated" in collapsed
    full = draw_graph(compiled, model=model).source
    program = compiled.cache[next(iter(compiled.cache))][0].program
    drawn = sum(1 for op in program.ops if type(op).__name__ != "Release")
    assert len(re.findall(r"^\s*op\d+ \[", full, re.M)) == drawn  # a node per operation (Release aside)
    assert "one buffer: 4x20x28x28 float32" in full and "conv1.weight.grad +=" in full and "SGD.step()" in full


def test_guards_that_change_every_call_stop_recording_after_a_limit():
    from tinygrad_cnn.compile import MAX_RECORDINGS
    layer = nn.Linear(3, 2)
    compiled = tg.compile(lambda x, scale: (layer(x) * scale).detach())
    x = tg.randn(2, 3)
    with pytest.warns(UserWarning, match=f"recorded {MAX_RECORDINGS} times"):
        for i in range(MAX_RECORDINGS + 3):
            out = compiled(x, i + 1.0)  # a new value each call: a new guard
    np.testing.assert_array_equal(out.numpy(), (layer(x) * (MAX_RECORDINGS + 3.0)).detach().numpy())
    assert compiled.records == MAX_RECORDINGS


def test_an_argument_that_cannot_be_a_guard_keeps_the_call_eager():
    layer = nn.Linear(3, 2)
    compiled = tg.compile(lambda x, scale: (layer(x) * tg.tensor(scale)).detach())
    x = tg.randn(2, 3)
    with pytest.warns(UserWarning, match="an argument of type ndarray cannot be a guard"):
        compiled(x, np.array([1.0, 2.0], np.float32))
    out = compiled(x, np.array([3.0, 4.0], np.float32))
    np.testing.assert_array_equal(out.numpy(), (layer(x) * tg.tensor([3.0, 4.0])).detach().numpy())
    assert compiled.records == 0


def test_a_compiled_step_equals_eager_execution_on_every_device(device):
    """On the CPU, along the GPU's code paths (where primitives pick other strategies), and on CUDA."""
    batches = [(x.to(device), y.to(device)) for x, y in _batches((4, 1, 28, 28), 4)]
    expected = []
    model, opt, step = _training("lenet-bn")
    model.to(device)
    for x, y in batches:
        expected.append((step(x, y).cpu().numpy(), [p.detach().cpu().numpy().copy() for p in model.parameters()]))
    model, opt, step = _training("lenet-bn")
    model.to(device)
    compiled = tg.compile(step)
    for (x, y), (loss, params) in zip(batches, expected):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.testing.assert_array_equal(compiled(x, y).cpu().numpy(), loss)
        for p, q in zip(model.parameters(), params):
            np.testing.assert_array_equal(p.detach().cpu().numpy(), q)
    assert compiled.records == 1

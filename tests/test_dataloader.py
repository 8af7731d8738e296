"""tinygrad_cnn.utils.data: DataLoader with PyTorch's arguments, worker processes, samplers and collation."""
import os
import time

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn.utils.data import (
    BatchSampler, DataLoader, Dataset, IterableDataset, SequentialSampler, SubsetRandomSampler, TensorDataset,
    WeightedRandomSampler, default_collate, get_worker_info, random_split,
)

from .helpers import requires_torch, torch


class Numbered(Dataset):
    """Sample i: (i as float32 array, i, a random draw from tg's generator, the worker id, the process id)."""

    def __init__(self, n=23, delay=0.0):
        self.n, self.delay = n, delay

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        time.sleep(self.delay)
        info = get_worker_info()
        return np.float32([i]), i, tg.rand(1).item(), (-1 if info is None else info.id), os.getpid()


def labels(loader):
    return [batch[1].tolist() for batch in loader]


@pytest.mark.parametrize("workers", [1, 3])
def test_workers_give_the_batches_of_the_main_process_in_order(workers):
    dataset = Numbered()
    plain = DataLoader(dataset, batch_size=4, shuffle=True, seed=5)
    parallel = DataLoader(dataset, batch_size=4, shuffle=True, seed=5, num_workers=workers, pin_memory=True)
    assert labels(parallel) == labels(plain)
    assert labels(parallel) == labels(plain)  # the second epoch too, in its own new order
    ids = {i for batch in parallel for i in batch[3].tolist()}
    assert ids == set(range(workers))


def test_workers_read_in_parallel():
    dataset = Numbered(n=16, delay=0.1)
    start = time.perf_counter()
    list(DataLoader(dataset, batch_size=2, num_workers=4))
    parallel = time.perf_counter() - start
    assert parallel < 16 * 0.1 * 0.7, parallel  # 1.6 s of reading, shared by four processes (0.4 s each, and
    # room for starting them on a loaded machine: with 0.05 s a read it failed once under load)


def test_worker_seeds_follow_the_generator_as_in_pytorch():
    def draws(seed):
        loader = DataLoader(Numbered(), batch_size=4, num_workers=2, generator=tg.Generator().manual_seed(seed))
        return [batch[2].tolist() for batch in loader]

    assert draws(1) == draws(1) and draws(1) != draws(2)
    first = draws(1)
    assert first[0] != first[1]  # workers 0 and 1 are seeded base_seed + 0 and base_seed + 1


def test_worker_info_lets_an_iterable_dataset_split_its_stream():
    class Stream(IterableDataset):
        def __iter__(self):
            info = get_worker_info()
            start, step = (0, 1) if info is None else (info.id, info.num_workers)
            return iter(range(start, 10, step))

    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3, num_workers=2)] == [
        [0, 2, 4], [1, 3, 5], [6, 8], [7, 9]]  # PyTorch's order: worker 0, worker 1, worker 0, ...


def test_an_error_in_a_worker_reaches_the_main_process_with_its_type_and_traceback():
    class Broken(Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            if i == 5:
                raise KeyError(f"sample {i} is missing")
            return np.float32([i])

    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process .*sample 5 is missing"):
        list(DataLoader(Broken(), batch_size=2, num_workers=2))


def test_worker_init_fn_runs_in_each_worker_and_persistent_workers_are_kept():
    seen = []

    def init(worker_id):
        np.random.seed(1000 + worker_id)

    loader = DataLoader(Numbered(n=8), batch_size=2, num_workers=2, persistent_workers=True, worker_init_fn=init)
    for _ in range(2):
        seen.append({pid for batch in loader for pid in batch[4].tolist()})
    assert seen[0] == seen[1] and len(seen[0]) == 2 and os.getpid() not in seen[0]
    fresh = DataLoader(Numbered(n=8), batch_size=2, num_workers=2)
    assert {pid for batch in fresh for pid in batch[4].tolist()} != {pid for batch in fresh for pid in batch[4].tolist()}


def test_arguments_pytorch_refuses_are_refused():
    dataset = Numbered()
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(dataset, sampler=SequentialSampler(dataset), shuffle=True)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified in multiprocessing"):
        DataLoader(dataset, prefetch_factor=2)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(dataset, num_workers=-1)


def test_samplers_batch_samplers_and_no_batching():
    dataset = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
    picked = [b[1].tolist() for b in DataLoader(dataset, batch_size=3, sampler=SubsetRandomSampler([1, 4, 7]))]
    assert sorted(sum(picked, [])) == [1, 4, 7]
    batches = BatchSampler(SequentialSampler(dataset), 4, drop_last=True)
    assert [b[1].tolist() for b in DataLoader(dataset, batch_sampler=batches)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    single = list(DataLoader(dataset, batch_size=None))
    assert len(single) == 10 and single[3][0].shape == () and single[3][1].item() == 3
    counts = np.bincount(list(WeightedRandomSampler([0.0, 1.0, 3.0], 4000, generator=tg.Generator().manual_seed(0))),
                         minlength=3)
    assert counts[0] == 0 and 2.6 < counts[2] / counts[1] < 3.4


def test_random_split_lengths_and_fractions():
    a, b = random_split(range(10), [7, 3], generator=tg.Generator().manual_seed(0))
    assert sorted(list(a) + list(b)) == list(range(10))
    assert [len(s) for s in random_split(range(11), [0.7, 0.3])] == [8, 3]  # the remainder goes first, as PyTorch
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the input dataset"):
        random_split(range(5), [2, 2])


def test_default_collate_follows_pytorchs_rules():
    batch = default_collate([{"x": np.float32([1, 2]), "n": 1, "f": 0.5, "s": "a", "pair": (True, [1, 2])},
                             {"x": np.float32([3, 4]), "n": 2, "f": 1.5, "s": "b", "pair": (False, [3, 4])}])
    assert batch["x"].tolist() == [[1, 2], [3, 4]] and batch["n"].dtype == tg.int64
    assert batch["f"].dtype == tg.float64 and batch["s"] == ["a", "b"]
    assert batch["pair"][0].tolist() == [True, False] and [t.tolist() for t in batch["pair"][1]] == [[1, 3], [2, 4]]


@requires_torch
def test_default_collate_matches_torchs():
    samples = [(np.float32([1, 2]), 3, 0.5, {"k": np.int64(4)}), (np.float32([5, 6]), 7, 1.5, {"k": np.int64(8)})]
    ours = default_collate(samples)
    theirs = torch.utils.data.default_collate(samples)
    assert type(ours) is type(theirs) and len(ours) == len(theirs)
    for o, t in [(ours[0], theirs[0]), (ours[1], theirs[1]), (ours[2], theirs[2]), (ours[3]["k"], theirs[3]["k"])]:
        assert o.tolist() == t.tolist() and str(o.dtype) == str(t.dtype).replace("torch.", "")


def test_workers_started_by_spawn_get_a_pickled_copy_of_the_loader():
    dataset = TensorDataset(np.arange(12, dtype=np.float32)[:, None], np.arange(12))
    loader = DataLoader(dataset, batch_size=4, num_workers=2, multiprocessing_context="spawn")
    assert labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]

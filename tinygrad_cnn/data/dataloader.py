"""DataLoader: batches of a dataset as Tensors, read in this process or in worker processes (PyTorch's
arguments and semantics; ``seed``, ``device`` and ``batch_transform`` are this library's additions)."""
import numpy as np

from .. import backend
from ..tensor import Tensor
from .collate import default_collate, default_convert, move_to
from .dataset import IterableDataset
from .fetch import fetch, next_batch
from .sampler import BatchSampler, RandomSampler, SequentialSampler
from .worker import WorkerPool


class DataLoader:
    """Batches of ``dataset``.

    The order comes from ``sampler`` (or ``batch_sampler``), else from ``shuffle``: with
    ``shuffle=True`` the order of epoch e is drawn from ``generator``, or from ``seed`` and e alone, so
    the same seed gives the same batches and a run resumed at epoch e sees what an uninterrupted run
    would (set ``loader.epoch = e``). ``num_workers > 0`` reads and transforms the samples in that many
    worker processes (``prefetch_factor`` batches ahead each, kept across epochs with
    ``persistent_workers``), seeded as PyTorch seeds them: worker i runs ``tg.manual_seed``,
    ``random.seed`` and ``np.random.seed`` with base_seed + i, the base seed drawn from ``generator``
    (or the global generator) at the start of each epoch; batches come out in sampler order all the same.
    ``pin_memory`` is accepted and does nothing (there is no page-locked copy to make on the CPU).
    ``batch_transform`` (optional) is applied to each batch's first field (the images), as NumPy, before
    it becomes a Tensor: the random transforms draw for every sample at once. ``device`` moves batches there.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True, seed=None, device=None, batch_transform=None):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing. Let num_workers "
                             "> 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if isinstance(dataset, IterableDataset):
            if shuffle:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler or batch_sampler")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        elif batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size should be a positive integer, got {batch_size}")
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.num_workers, self.timeout, self.worker_init_fn = num_workers, timeout, worker_init_fn
        self.pin_memory, self.pin_memory_device, self.in_order = pin_memory, pin_memory_device, in_order
        self.prefetch_factor = 2 if num_workers and prefetch_factor is None else prefetch_factor
        self.persistent_workers, self.multiprocessing_context = persistent_workers, multiprocessing_context
        self.generator, self.device, self.batch_transform = generator, device, batch_transform
        self.auto_collation = batch_size is not None or batch_sampler is not None
        self.collate_fn = collate_fn or (default_collate if self.auto_collation else default_convert)
        if not isinstance(dataset, IterableDataset):
            if sampler is None:
                sampler = (RandomSampler(dataset, generator=generator, seed=seed) if shuffle
                           else SequentialSampler(dataset))
            if batch_size is not None and batch_sampler is None:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self._pool = None

    @property
    def epoch(self):
        """The number of epochs the shuffling sampler has drawn (set it to resume a run)."""
        return getattr(self.sampler, "epoch", 0)

    @epoch.setter
    def epoch(self, value):
        self.sampler.epoch = value

    @property
    def seed(self):
        return getattr(self.sampler, "seed", None)

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)  # a TypeError where the stream has no length, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    def _tasks(self):
        """What each batch reads: a list of indices, one index (no auto-batching), or None (the next
        batch of an IterableDataset's stream)."""
        if isinstance(self.dataset, IterableDataset):
            return None
        return iter(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __iter__(self):
        tasks = self._tasks()
        if self.num_workers == 0:
            batches = (fetch(self.dataset, task, self.collate_fn, self.auto_collation)
                       for task in tasks) if tasks is not None else self._stream()
        else:
            base_seed = int(backend.rng_of(self.generator).integers(2 ** 62))
            pool = self._pool
            if pool is None or not pool.alive():
                pool = WorkerPool(self, base_seed)
                if self.persistent_workers:
                    self._pool = pool
            batches = pool.run(tasks, shutdown=not self.persistent_workers)
        for batch in batches:
            yield self._finish(batch)

    def _stream(self):
        """Batches of an IterableDataset read in this process."""
        it = iter(self.dataset)
        while True:
            batch = next_batch(it, self.batch_size, self.drop_last, self.collate_fn, self.auto_collation)
            if batch is None:
                return
            yield batch

    def _finish(self, batch):
        if self.batch_transform is not None:
            first = batch[0]
            batch[0] = Tensor(np.ascontiguousarray(self.batch_transform(backend.as_numpy(first))))
        return batch if self.device is None else move_to(batch, self.device)

    def __del__(self):
        pool = getattr(self, "_pool", None)  # (absent when __init__ refused its arguments)
        if pool is not None:
            pool.shutdown()

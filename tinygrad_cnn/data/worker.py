"""Worker processes for DataLoader(num_workers=N): each reads and collates whole batches.

The main process sends each worker (round robin) a batch number and what to read; up to
``prefetch_factor`` batches a worker are under way at once. Results come back on one queue and
are handed out in batch-number order, so the batches are those of ``num_workers=0``. A worker
seeds tg, ``random`` and NumPy's legacy global generator with base_seed + its id, as PyTorch's do.
"""
import multiprocessing
import queue
import random
import traceback

import numpy as np

from .. import backend
from .fetch import fetch, next_batch

_worker_info = None


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: its id, how many there are, its seed, its dataset copy."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


def get_worker_info():
    """The current worker's WorkerInfo inside a DataLoader worker process; None in the main process."""
    return _worker_info


class _Exhausted:
    """A worker's answer when its copy of an IterableDataset has no more batches."""


class _WorkerError:
    """An exception raised in a worker, carried to the main process with its traceback."""

    def __init__(self, worker_id, error):
        self.type = type(error)
        self.message = f"Caught {type(error).__name__} in DataLoader worker process {worker_id}.\n" + \
            "Original " + traceback.format_exc()

    def reraise(self):
        try:
            error = self.type(self.message)
        except Exception:
            error = RuntimeError(self.message)
        raise error


def _worker_loop(loader, worker_id, seed, tasks, results):
    global _worker_info
    results.cancel_join_thread()  # exit when told to, even with batches nobody will read still queued
    backend.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    dataset = loader.dataset
    _worker_info = WorkerInfo(worker_id, loader.num_workers, seed, dataset)
    stream = None
    try:
        if loader.worker_init_fn is not None:
            loader.worker_init_fn(worker_id)
    except Exception as error:  # every batch this worker is asked for reports it
        init_error = _WorkerError(worker_id, error)
    else:
        init_error = None
    while True:
        message = tasks.get()
        if message is None:
            return
        number, task = message
        if init_error is not None:
            results.put((number, init_error))
            continue
        try:
            if task is None:  # the next batch of this worker's copy of the stream
                if stream is None:
                    stream = iter(dataset)
                batch = next_batch(stream, loader.batch_size, loader.drop_last, loader.collate_fn,
                                   loader.auto_collation)
                batch = _Exhausted() if batch is None else batch
            else:
                batch = fetch(dataset, task, loader.collate_fn, loader.auto_collation)
        except Exception as error:
            batch = _WorkerError(worker_id, error)
        results.put((number, batch))


class WorkerPool:
    """``loader.num_workers`` processes, started once and used for one epoch (or many, if persistent)."""

    def __init__(self, loader, base_seed):
        context = loader.multiprocessing_context
        if context is None or isinstance(context, str):
            context = multiprocessing.get_context(context)
        self.loader = loader
        self.results = context.Queue()
        self.task_queues, self.workers = [], []
        for i in range(loader.num_workers):
            tasks = context.Queue()
            worker = context.Process(target=_worker_loop, args=(loader, i, base_seed + i, tasks, self.results),
                                     daemon=True)
            worker.start()
            self.task_queues.append(tasks)
            self.workers.append(worker)

    def alive(self):
        return bool(self.workers) and all(w.is_alive() for w in self.workers)

    def run(self, tasks, shutdown):
        """Yield the batches of ``tasks`` (an iterator of index lists, or None for a stream) in order."""
        try:
            yield from self._batches(tasks)
        finally:
            if shutdown:
                self.shutdown()

    def _batches(self, tasks):
        n_workers = len(self.workers)
        ahead = self.loader.prefetch_factor * n_workers
        sent = received = 0
        done = {}  # batch number -> batch, for those that arrived early
        active = list(range(n_workers))  # for a stream: the workers whose copy is not exhausted
        owner = {}

        def send():
            nonlocal sent
            if tasks is None:
                if not active:
                    return False
                worker = active[sent % len(active)]
                task = None
            else:
                task = next(tasks, None)
                if task is None:
                    return False
                worker = sent % n_workers
            owner[sent] = worker
            self.task_queues[worker].put((sent, task))
            sent += 1
            return True

        while sent - received < ahead and send():
            pass
        while received < sent:
            while received not in done:
                number, batch = self._get()
                done[number] = batch
            batch = done.pop(received)
            received += 1
            if isinstance(batch, _WorkerError):
                batch.reraise()
            if isinstance(batch, _Exhausted):
                if owner[received - 1] in active:
                    active.remove(owner[received - 1])
            else:
                yield batch
            while sent - received < ahead and send():
                pass

    def _get(self):
        """The next result from any worker, failing clearly if one died or ``timeout`` passed."""
        waited = 0.0
        step = 1.0 if not self.loader.timeout else min(1.0, self.loader.timeout)
        while True:
            try:
                return self.results.get(timeout=step)
            except queue.Empty:
                waited += step
                dead = [w for w in self.workers if not w.is_alive()]
                if dead:
                    self.shutdown()
                    raise RuntimeError(f"DataLoader worker (pid(s) {', '.join(str(w.pid) for w in dead)}) exited "
                                       f"unexpectedly (exit code {dead[0].exitcode})") from None
                if self.loader.timeout and waited >= self.loader.timeout:
                    self.shutdown()
                    raise RuntimeError(f"DataLoader timed out after {self.loader.timeout} seconds") from None

    def shutdown(self):
        for tasks in self.task_queues:
            try:
                tasks.put(None)
            except (OSError, ValueError):
                pass
        for w in self.workers:
            w.join(timeout=5)
            if w.is_alive():
                w.terminate()
        self.workers, self.task_queues = [], []

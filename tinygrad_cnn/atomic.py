"""Writing a file so that nothing, Ctrl-C included, leaves a half-written file or debris behind:
the data goes to a temporary file beside the target, which is renamed into place when complete
and removed on any error."""
import contextlib
import os
import signal
import tempfile
import threading


@contextlib.contextmanager
def interrupts_deferred():
    """Hold Ctrl-C (SIGINT) until the block is done, then deliver it. For short critical steps only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            if callable(previous):
                previous(signal.SIGINT, received[0])
            elif previous == signal.SIG_DFL:
                raise KeyboardInterrupt


def _permissions():
    """The mode a newly created file gets here: 0666 less the process's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_write(path, mode="wb", prefix=".tmp-", suffix=""):
    """``with atomic_write(path) as f:`` write to ``f``; ``path`` appears, complete, only if the block ends
    without an error. The temporary file is created and its name remembered with Ctrl-C held, so an
    interrupt can never land between the two; one during the writing itself removes it at once."""
    path = os.fspath(path)
    tmp = None
    try:
        with interrupts_deferred():
            handle, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=prefix, suffix=suffix)
        with os.fdopen(handle, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _permissions())  # mkstemp's file is private (0600); give the usual rw-r--r--
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        raise

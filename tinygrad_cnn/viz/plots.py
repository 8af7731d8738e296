"""Pictures with matplotlib (the optional ``plot`` extra): curves, confusion matrix, filters, feature maps."""

from .. import backend
from ..atomic import atomic_write


class MatplotlibMissing(ImportError):
    """Raised when a picture is asked for and matplotlib is not installed."""


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MatplotlibMissing("matplotlib is not installed (pip install 'tinygrad_cnn[plot]')") from None
    return plt


def have_matplotlib():
    try:
        _pyplot()
    except MatplotlibMissing:
        return False
    return True


def _save(fig, path):
    """Write a figure atomically (temporary file, then rename)."""
    try:
        with atomic_write(path, suffix=".png") as f:
            fig.savefig(f, format="png", dpi=120, bbox_inches="tight")
    finally:
        _pyplot().close(fig)
    return path


def plot_curves(metrics, path, labels=None):
    """Loss and accuracy per epoch; ``metrics`` is a list of dicts, or a dict name -> list for side by side."""
    plt = _pyplot()
    runs = metrics if isinstance(metrics, dict) else {"": metrics}
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, rows in runs.items():
        epochs = [r["epoch"] for r in rows]
        prefix = f"{name} " if name else ""
        ax_loss.plot(epochs, [r["train_loss"] for r in rows], "-o", ms=3, label=f"{prefix}train")
        ax_loss.plot(epochs, [r["test_loss"] for r in rows], "--o", ms=3, label=f"{prefix}test")
        ax_acc.plot(epochs, [100 * r["train_acc"] for r in rows], "-o", ms=3, label=f"{prefix}train")
        ax_acc.plot(epochs, [100 * r["test_acc"] for r in rows], "--o", ms=3, label=f"{prefix}test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss", yscale="log")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def plot_confusion(matrix, path, title="confusion matrix"):
    plt = _pyplot()
    np = backend.numpy_module()
    matrix = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                color="white" if v > matrix.max() / 2 else "black")
    ax.set(xlabel="predicted", ylabel="true", title=title, xticks=range(len(matrix)), yticks=range(len(matrix)))
    return _save(fig, path)


def plot_filters(weight, path, title="first-layer filters"):
    """Each (out, in, KH, KW) filter as a small image (first input channel), in a grid."""
    plt = _pyplot()
    np = backend.numpy_module()
    w = backend.as_numpy(weight)[:, 0]
    cols = int(np.ceil(np.sqrt(len(w))))
    rows = int(np.ceil(len(w) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9))
    limit = np.abs(w).max()
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i < len(w):
            ax.imshow(w[i], cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.suptitle(title)
    return _save(fig, path)


def plot_feature_maps(model, image, path, layers=None, max_maps=8):
    """The maps of one image after each conv layer (rows: layers; columns: the first channels)."""
    from ..autograd import no_grad
    from ..nn import Conv2d
    from ..tensor import Tensor

    plt = _pyplot()
    np = backend.numpy_module()
    image = image if isinstance(image, Tensor) else Tensor(image, device=next(model.parameters()).device)
    names = layers or [n for n, m in model.named_modules() if isinstance(m, Conv2d)]
    modules = dict(model.named_modules())
    captured, hooks = {}, []
    for name in names:
        hooks.append(modules[name].register_forward_hook(
            lambda m, i, o, name=name: captured.__setitem__(name, backend.as_numpy(o)[0])))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(image.reshape(1, *image.shape[-3:]))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    fig, axes = plt.subplots(len(names), max_maps + 1, figsize=((max_maps + 1) * 1.1, len(names) * 1.2))
    axes = np.atleast_2d(axes)
    for row, name in enumerate(names):
        axes[row, 0].imshow(backend.as_numpy(image).reshape(image.shape[-2:]), cmap="gray")
        axes[row, 0].set_title("input" if row == 0 else "", fontsize=8)
        axes[row, 0].set_ylabel(name, fontsize=8)
        for col in range(max_maps):
            ax = axes[row, col + 1]
            if col < len(captured[name]):
                ax.imshow(captured[name][col], cmap="viridis")
                ax.set_title(f"{name}[{col}]", fontsize=6)
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    return _save(fig, path)

"""The main job: train LeNet-5 (or ResNet-8) with progress bars, checkpoints, metrics and curves."""
import csv
import os
import time
from dataclasses import asdict, dataclass

from . import backend, data, optim, serialization
from .atomic import atomic_write
from .autograd import no_grad
from .compile import compile as compile_step
from .models import LeNet5, resnet8
from .nn import functional as F
from .viz import plots


MODELS = {"lenet5": "LeNet-5", "resnet8": "ResNet-8"}  # --model: the name the log and checkpoints use
DATASETS = ("digits", "mnist", "mnist10k", "cifar10")


@dataclass
class TrainConfig:
    data: str = "digits"  # one of DATASETS; mnist10k: the 10,000 test images, first 8,000 train, last 2,000 test
    root: str = "data/mnist"
    model: str = "lenet5"  # lenet5 | resnet8
    epochs: int = 12
    batch_size: int = 32
    lr: float = 0.02
    optimizer: str = "sgd"
    schedule: str = "cosine"  # cosine (anneal lr to 0 over the epochs) | constant
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_norm: bool = False
    seed: int = 0
    device: str = "cpu"
    train_limit: int = 0  # use only the first N training images (0: all)
    test_limit: int = 0


def load_datasets(config, download=False):
    """(train, test) TensorDatasets for the configured data."""
    if config.data == "digits":
        train, test = data.digits(train=True), data.digits(train=False)
    elif config.data == "mnist":
        train = data.MNIST(config.root, train=True, download=download)
        test = data.MNIST(config.root, train=False, download=download)
    elif config.data == "mnist10k":
        full = data.MNIST(config.root, train=False, download=download)
        images, labels = full.arrays
        train, test = data.TensorDataset(images[:8000], labels[:8000]), data.TensorDataset(images[8000:], labels[8000:])
    elif config.data == "cifar10":
        train = data.CIFAR10(config.root, train=True, download=download)
        test = data.CIFAR10(config.root, train=False, download=download)
    else:
        raise ValueError(f"unknown dataset {config.data!r} (expected {', '.join(DATASETS)})")
    if config.train_limit:
        train = data.TensorDataset(*(a[:config.train_limit] for a in train.arrays))
    if config.test_limit:
        test = data.TensorDataset(*(a[:config.test_limit] for a in test.arrays))
    return train, test


def check_model_and_data(model, data, batch_norm):
    """Raise ValueError for a model that cannot be built as asked or cannot take the data."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r} (expected {' or '.join(MODELS)})")
    if model == "lenet5" and data == "cifar10":
        raise ValueError("LeNet-5 is built for 1x28x28 images; train CIFAR-10 with --model resnet8")
    if model == "resnet8" and batch_norm:
        raise ValueError("--batch-norm applies to lenet5 (resnet8 always has batch norm after every conv)")


def build_model(config):
    """LeNet-5 (for 1x28x28 images) or ResNet-8 (any size; always with batch norm)."""
    check_model_and_data(config.model, config.data, config.batch_norm)
    if config.model == "lenet5":
        return LeNet5(batch_norm=config.batch_norm).to(config.device)
    return resnet8(in_channels=3 if config.data == "cifar10" else 1).to(config.device)


def build_optimizer(config, model):
    if config.optimizer == "sgd":
        return optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    raise ValueError(f"unknown optimizer {config.optimizer!r} (expected sgd or adam)")


def build_scheduler(config, optimizer, last_epoch):
    """Cosine annealing over the run (stepped once per epoch), or None for a constant lr."""
    if config.schedule == "constant":
        return None
    if config.schedule != "cosine":
        raise ValueError(f"unknown schedule {config.schedule!r} (expected cosine or constant)")
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", config.lr)
    return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs, last_epoch=last_epoch - 1)


@no_grad()
def evaluate(model, loader, classes=10):
    """(mean loss, accuracy, confusion matrix as nested lists [true][predicted]) on a loader, in eval mode."""
    np = backend.numpy_module()
    was_training = model.training
    model.eval()
    total_loss, confusion = 0.0, np.zeros((classes, classes), np.int64)
    for x, y in loader:
        logits = model(x)
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        np.add.at(confusion, (backend.to_numpy(y.array), backend.to_numpy(logits.argmax(1).array)), 1)
    model.train(was_training)
    n = int(confusion.sum())
    return total_loss / n, float(np.trace(confusion)) / n, confusion.tolist()


def save_checkpoint(path, model, optimizer, epoch, config, metrics):
    serialization.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                        "config": asdict(config), "metrics": metrics, "arch": _ARCH[config.model]}, path)


_ARCH = {"lenet5": "LeNet5", "resnet8": "ResNet8"}  # the checkpoint's "arch" entry for each --model


def load_checkpoint(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    checkpoint = serialization.load(path)
    if not isinstance(checkpoint, dict) or checkpoint.get("arch") not in _ARCH.values() or "model" not in checkpoint:
        raise ValueError(f"{path} is not a tinygrad_cnn training checkpoint (no 'arch' entry naming LeNet5 or "
                         f"ResNet8)")
    return checkpoint


def model_from_checkpoint(checkpoint, device="cpu"):
    config = TrainConfig(**{"model": "lenet5", **checkpoint["config"], "device": device})
    model = build_model(config)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as error:
        built = f"LeNet5(batch_norm={config.batch_norm})" if config.model == "lenet5" else "ResNet8"
        raise ValueError(f"the checkpoint does not fit {built}: {str(error).splitlines()[-1].strip()}") from None
    return model, config


def _progress(total, desc, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", leave=True, disable=not enabled, dynamic_ncols=True)


def train(config, out_dir="runs/lenet5", resume=None, progress=True, log=print, download=False, compile=True):
    """Train, saving ``checkpoint.npz`` each epoch, ``model.npz``, ``metrics.csv`` and ``curves.png`` in out_dir.

    Returns the list of per-epoch metrics. Ctrl-C stops after the last complete epoch,
    whose checkpoint is intact. ``download`` fetches MNIST into ``config.root`` if missing. ``compile``:
    the training step runs through ``tg.compile`` (replayed once proven equal to eager execution, so the
    numbers are the same either way).
    """
    backend.manual_seed(config.seed)
    model = build_model(config)  # first: a model that cannot take this data says so before anything loads
    train_set, test_set = load_datasets(config, download=download)
    os.makedirs(out_dir, exist_ok=True)  # only once everything needed is there
    optimizer = build_optimizer(config, model)
    start_epoch, metrics = 0, []
    if resume:
        checkpoint = load_checkpoint(resume)
        model, saved_config = model_from_checkpoint(checkpoint, config.device)
        if saved_config.batch_norm != config.batch_norm or saved_config.model != config.model:
            raise ValueError(f"--model/--batch-norm do not match the checkpoint (it was trained with --model "
                             f"{saved_config.model}, batch_norm={saved_config.batch_norm})")
        optimizer = build_optimizer(config, model)
        optimizer.load_state_dict(checkpoint["optimizer"])
        start_epoch, metrics = checkpoint["epoch"], checkpoint["metrics"]
        log(f"resumed from {resume} at epoch {start_epoch}")
    scheduler = build_scheduler(config, optimizer, start_epoch)
    train_loader = data.DataLoader(train_set, config.batch_size, shuffle=True, seed=config.seed,
                                   device=config.device)
    train_loader.epoch = start_epoch
    test_loader = data.DataLoader(test_set, 500, device=config.device)
    checkpoint_path = os.path.join(out_dir, "checkpoint.npz")
    log(f"training {MODELS[config.model]}{' with batch norm' if config.batch_norm else ''} on {config.data}: "
        f"{len(train_set)} train / {len(test_set)} test images, {config.epochs} epochs, batch {config.batch_size}, "
        f"{config.optimizer} lr {config.lr}, device {config.device}")
    saved = start_epoch  # the epoch whose checkpoint is on disk
    step = training_step(model, optimizer)
    if compile:
        step = compile_step(step)
    try:
        for epoch in range(start_epoch + 1, config.epochs + 1):
            row = _train_epoch(model, optimizer, step, train_loader, epoch, config, progress)
            row["test_loss"], row["test_acc"], _ = evaluate(model, test_loader)
            metrics.append(row)
            if scheduler is not None:
                scheduler.step()
            save_checkpoint(checkpoint_path, model, optimizer, epoch, config, metrics)  # atomic: all or nothing
            saved = epoch
            log(f"epoch {epoch:2d}/{config.epochs}: train loss {row['train_loss']:.4f} acc {row['train_acc']:.2%} | "
                f"test loss {row['test_loss']:.4f} acc {row['test_acc']:.2%} | {row['seconds']:.1f}s "
                f"({row['images_per_second']:.0f} img/s)")
    except KeyboardInterrupt:
        if saved:
            log(f"\ninterrupted: the checkpoint of epoch {saved} is intact at {checkpoint_path}; "
                f"continue with --resume {checkpoint_path}")
        else:
            log("\ninterrupted before the first epoch ended: no checkpoint was written")
        raise
    serialization.save(model.state_dict(), os.path.join(out_dir, "model.npz"))
    write_metrics_csv(metrics, os.path.join(out_dir, "metrics.csv"))
    if plots.have_matplotlib():
        plots.plot_curves(metrics, os.path.join(out_dir, "curves.png"))
        plots.plot_filters(model.conv1.weight, os.path.join(out_dir, "filters.png"))
        plots.plot_feature_maps(model, test_set[0][0], os.path.join(out_dir, "feature_maps.png"))
        pictures = "curves.png, filters.png, feature_maps.png"
    else:
        pictures = "no pictures (matplotlib is not installed: pip install 'tinygrad_cnn[plot]')"
    log(f"wrote {out_dir}/: checkpoint.npz, model.npz, metrics.csv, {pictures}")
    return metrics


def training_step(model, optimizer):
    """One optimizer step on a batch; returns (the loss, how many of the batch the model got right)."""
    def step(x, y):
        optimizer.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        return loss.detach(), (logits.argmax(1) == y).sum()
    return step


def _train_epoch(model, optimizer, step, loader, epoch, config, progress):
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    with _progress(len(loader.dataset), f"epoch {epoch}/{config.epochs}", progress) as bar:
        for x, y in loader:
            loss, right = step(x, y)
            n = len(y)
            total_loss += loss.item() * n
            correct += int(right.item())
            seen += n
            bar.update(n)
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.1%}", refresh=False)
    seconds = time.perf_counter() - start
    return dict(epoch=epoch, train_loss=total_loss / seen, train_acc=correct / seen, seconds=seconds,
                images_per_second=seen / seconds, lr=optimizer.param_groups[0]["lr"])


def write_metrics_csv(metrics, path):
    fields = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds", "images_per_second", "lr"]
    with atomic_write(path, mode="w", suffix=".csv") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in metrics:
            writer.writerow({k: row[k] for k in fields})


def confusion_text(matrix):
    """The confusion matrix as a text table (rows: true class, columns: predicted)."""
    header = "true\\pred " + " ".join(f"{j:>5d}" for j in range(len(matrix)))
    return "\n".join([header] + [f"{i:>9d} " + " ".join(f"{v:>5d}" for v in row) for i, row in enumerate(matrix)])

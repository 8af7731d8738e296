"""The command line: ``python -m tinygrad_cnn train | summary | evaluate | graph``."""
import argparse
import math
import os
import sys

USER_ERRORS = (FileNotFoundError, ValueError, RuntimeError, ImportError)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, not usage plus a line."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(kind, test, condition):
    """An argparse type: a number of ``kind`` passing ``test``, else one line saying what it must be."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {condition}, got {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"must be {condition}, got {text}")
        return value
    return parse


positive_int = _number(int, lambda n: n >= 1, "a positive integer")
non_negative_int = _number(int, lambda n: n >= 0, "an integer >= 0")
positive_float = _number(float, lambda x: math.isfinite(x) and x > 0, "a positive finite number")


def _train(args):
    from .training import TrainConfig, train

    root = args.root or ("data/cifar10" if args.data == "cifar10" else "data/mnist")
    lr = args.lr if args.lr is not None else (0.02 if args.optimizer == "sgd" else 1e-3)
    config = TrainConfig(data=args.data, root=root, model=args.model, epochs=args.epochs, batch_size=args.batch_size,
                         lr=lr, optimizer=args.optimizer, schedule=args.schedule, batch_norm=args.batch_norm,
                         seed=args.seed, device=args.device, train_limit=args.train_limit, test_limit=args.test_limit)
    _check_device(args.device)
    try:
        train(config, args.out or f"runs/{args.model}", resume=args.resume, progress=not args.no_progress,
              download=args.download, compile=not args.no_compile)
    except KeyboardInterrupt:
        return 130
    return 0


def _summary(args):
    from . import summary
    from .models import LeNet5, resnet8

    if args.checkpoint:
        from .training import load_checkpoint, model_from_checkpoint

        model, _ = model_from_checkpoint(load_checkpoint(args.checkpoint))
    elif args.model == "resnet8":
        model = resnet8(in_channels=args.input_size[0])
    else:
        model = LeNet5(in_channels=args.input_size[0], batch_norm=args.batch_norm)
    summary(model, tuple(args.input_size))
    return 0


def _evaluate(args):
    from .data import DataLoader
    from .training import (
        MODELS, TrainConfig, confusion_text, evaluate, load_checkpoint, load_datasets, model_from_checkpoint,
    )
    from .viz import plots

    _check_device(args.device)
    model, config = model_from_checkpoint(load_checkpoint(args.checkpoint), args.device)
    data = args.data or config.data
    _, test = load_datasets(TrainConfig(data=data, root=args.root or config.root, test_limit=args.test_limit))
    loss, accuracy, confusion = evaluate(model, DataLoader(test, 500, device=args.device))
    print(f"{args.checkpoint} on {data} ({len(test)} test images): loss {loss:.4f}, accuracy {accuracy:.2%}")
    print(confusion_text(confusion))
    if args.out:
        if plots.have_matplotlib():
            plots.plot_confusion(confusion, args.out, title=f"{MODELS[config.model]} on {data}: {accuracy:.2%}")
            print(f"wrote {args.out}")
        else:
            print("skipped the confusion-matrix picture: matplotlib is not installed (pip install 'tinygrad_cnn[plot]')")
    return 0


def _graph(args):
    from .viz.graph import graph_command

    return graph_command(args)


def _lecture(args):
    from .viz.lecture import write_lecture

    written = write_lecture(args.out)
    print(f"wrote {len(written)} files to {args.out}: open {os.path.join(args.out, 'index.html')}")
    return 0


def _check_device(device):
    if device == "cuda":
        from . import cuda

        if not cuda.is_available():
            raise RuntimeError("--device cuda: no CUDA GPU is available here (CuPy is missing or sees no GPU); "
                               "use --device cpu")


def build_parser():
    parser = _Parser(prog="tinygrad-cnn",
                     description="Train, inspect and draw the lecture's LeNet-5 (and a ResNet-8).")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train LeNet-5 (the main job) or ResNet-8")
    train.add_argument("--model", choices=["lenet5", "resnet8"], default="lenet5",
                       help="lenet5: the lecture's table; resnet8: a CIFAR-style ResNet-8 (batch norm, residual adds)")
    train.add_argument("--data", choices=["digits", "mnist", "mnist10k", "cifar10"], default="digits",
                       help="digits: embedded 8x8 digits (offline); mnist: IDX files in --root; "
                            "mnist10k: the 10,000 MNIST test images, first 8,000 to train, last 2,000 to test; "
                            "cifar10: cifar-10-binary.tar.gz in --root (with --model resnet8)")
    train.add_argument("--root", default=None, help="folder with the data files (default data/mnist or data/cifar10)")
    train.add_argument("--download", action="store_true", help="download MNIST or CIFAR-10 into --root if missing")
    train.add_argument("--epochs", type=positive_int, default=12)
    train.add_argument("--batch-size", type=positive_int, default=32)
    train.add_argument("--lr", type=positive_float, default=None, help="default 0.02 for sgd, 0.001 for adam")
    train.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    train.add_argument("--schedule", choices=["cosine", "constant"], default="cosine",
                       help="learning rate: cosine annealing to 0 over the epochs, or constant")
    train.add_argument("--batch-norm", action="store_true", help="batch norm after each conv")
    train.add_argument("--seed", type=non_negative_int, default=0)
    train.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    train.add_argument("--out", default=None,
                       help="folder for checkpoint, model, metrics and curves (default runs/MODEL)")
    train.add_argument("--resume", metavar="CHECKPOINT", help="continue from a checkpoint.npz")
    train.add_argument("--train-limit", type=non_negative_int, default=0,
                       help="use only the first N training images (0: all)")
    train.add_argument("--test-limit", type=non_negative_int, default=0, help="use only the first N test images")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.add_argument("--no-compile", action="store_true",
                       help="run every step eagerly (by default the step is recorded once, proven equal to eager "
                            "execution, then replayed: tg.compile)")
    train.set_defaults(run=_train)

    summary = commands.add_parser("summary", help="print LeNet-5's (or ResNet-8's) layer table")
    summary.add_argument("--model", choices=["lenet5", "resnet8"], default="lenet5")
    summary.add_argument("--checkpoint", help="a saved checkpoint.npz to summarise")
    summary.add_argument("--batch-norm", action="store_true")
    summary.add_argument("--input-size", type=positive_int, nargs=3, default=[1, 28, 28], metavar=("C", "H", "W"))
    summary.set_defaults(run=_summary)

    evaluate = commands.add_parser("evaluate", help="test accuracy and confusion matrix of a checkpoint")
    evaluate.add_argument("checkpoint")
    evaluate.add_argument("--data", choices=["digits", "mnist", "mnist10k", "cifar10"],
                          help="default: the checkpoint's")
    evaluate.add_argument("--root", help="default: the checkpoint's")
    evaluate.add_argument("--test-limit", type=non_negative_int, default=0)
    evaluate.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    evaluate.add_argument("--out", help="write the confusion matrix as a PNG here")
    evaluate.set_defaults(run=_evaluate)

    graph = commands.add_parser("graph", help="draw a computation graph with graphviz")
    graph.add_argument("--model", choices=["lenet5", "conv-demo", "resnet-block"], default="lenet5")
    graph.add_argument("--backward", action="store_true", help="draw the graph of the backward pass")
    graph.add_argument("--collapse", action="store_true", help="one node per composite op")
    graph.add_argument("--format", choices=["svg", "png", "dot"], default=None)
    graph.add_argument("--direction", choices=["TB", "LR"], default="TB")
    graph.add_argument("--focus", help="draw one part only: a module (conv1, fc2, ...) or a composite (batch_norm)")
    graph.add_argument("--depth", type=positive_int, default=None, help="draw clusters at most this many levels deep")
    graph.add_argument("--slide", action="store_true",
                       help="16:9 slides (1920x1080 at readable type): summarised to fit, split by module where "
                            "one slide is not enough (out_1.png, out_2.png, ...)")
    graph.add_argument("--out", default=None, help="output file (its suffix picks the format)")
    graph.add_argument("--html", default=None, metavar="PATH",
                       help="write the interactive page (pan, zoom, expand, step through backward) to PATH")
    graph.set_defaults(run=_graph)

    lecture = commands.add_parser("lecture", help="write every lecture figure as a 16:9 slide (PNG, SVG, index.html)")
    lecture.add_argument("--out", default="lecture", help="folder for the slides (default: lecture)")
    lecture.set_defaults(run=_lecture)
    return parser


def _refuse(parser, args, message):
    parser.exit(2, f"{parser.prog} {args.command}: error: {message} (see {parser.prog} {args.command} --help)\n")


def check_arguments(parser, args):
    """Checks across options and of what they name on disk, before anything runs or is written (errors
    exit with 2, as argparse's own)."""
    if args.command == "train":
        from .training import check_model_and_data

        try:
            check_model_and_data(args.model, args.data, args.batch_norm)
        except ValueError as error:
            _refuse(parser, args, str(error))
    for option in ("resume", "checkpoint"):
        path = getattr(args, option, None)
        if path and not os.path.isfile(path):
            _refuse(parser, args, f"checkpoint {path} does not exist")
    out = getattr(args, "out", None)
    folder_commands = ("train", "lecture")  # their --out is a folder; the others' a file
    if args.command in folder_commands and out and os.path.exists(out) and not os.path.isdir(out):
        _refuse(parser, args, f"argument --out: {out} is a file, not a folder")
    if out and args.command not in folder_commands and os.path.isdir(out):
        _refuse(parser, args, f"argument --out: {out} is a folder; give a file name")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    try:
        return args.run(args)
    except USER_ERRORS as error:
        if os.environ.get("TINYGRAD_CNN_DEBUG"):
            raise
        print(f"tinygrad-cnn {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""The lecture's conv, animated: the 3x3 window sliding over the 5x5 image, frame by frame.

Forward: each window position copies its 9 pixels into one row of X_cols and the row times the filter
gives one output value. Backward: each output's gradient times the filter (a row of dX_cols = dY · Wᵀ)
is added back into dX where the window sat (col2im), and each window times its gradient is added into dW
(dW = X_colsᵀ · dY). X_cols, the output and the final dX and dW are the engine's own (``F.unfold``,
``F.conv2d``, ``backward``); the frames show the sums building up to them, window by window.

Each frame is an SVG (16:9, 1600x900, numbers at 20 px) that slides can use as it is; the same frames
play on the interactive page (``page.save_html(..., animation=frames)``).
"""
import html
import os
from dataclasses import dataclass

from .. import creation
from ..atomic import atomic_write
from ..backend import float32
from ..nn import functional as F
from .graph import LECTURE_FILTER, LECTURE_IMAGE, LECTURE_UPSTREAM

WIDTH, HEIGHT = 1600, 900
WINDOW, ROW, DONE, EMPTY = "#FF9800", "#FFE0B2", "#F5F5F5", "#FFFFFF"  # the window, its row, cells written so far


@dataclass
class Frame:
    title: str
    caption: str
    svg: str


@dataclass
class ConvNumbers:
    """The lecture's conv as the engine computes it (NumPy arrays)."""

    image: object  # 5x5
    weight: object  # 3x3
    upstream: object  # 3x3, dY
    windows: object  # 9x9, X_cols: one window per row
    output: object  # 3x3
    dx: object  # 5x5
    dw: object  # 3x3


def conv_numbers(image=LECTURE_IMAGE, weight=LECTURE_FILTER, upstream=LECTURE_UPSTREAM):
    """Run the conv and its backward pass with the engine and keep every array the frames show."""
    x = creation.tensor(image, dtype=float32).reshape(1, 1, *creation.tensor(image).shape).requires_grad_()
    w = creation.tensor(weight, dtype=float32).reshape(1, 1, *creation.tensor(weight).shape).requires_grad_()
    dy = creation.tensor(upstream, dtype=float32)
    output = F.conv2d(x, w)
    output.backward(dy.reshape(output.shape))
    windows = F.unfold(x.detach(), tuple(w.shape[2:]))[0].T  # (windows, pixels): X_cols
    return ConvNumbers(x.detach().numpy()[0, 0], w.detach().numpy()[0, 0], dy.numpy(), windows.numpy(),
                       output.detach().numpy()[0, 0], x.grad.numpy()[0, 0], w.grad.numpy()[0, 0])


def _number(v):
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.2g}"


def _grid(parts, left, top, values, cell, label, fills=None, shown=None):
    """A matrix of numbered cells: ``fills`` (r, c) -> colour, ``shown`` (r, c) -> whether its number shows."""
    rows, columns, font = len(values), len(values[0]), min(28, round(cell * 0.42))
    parts.append(f"<text x='{left}' y='{top - 12}' class='label'>{html.escape(label)}</text>")
    for r in range(rows):
        for c in range(columns):
            fill = (fills or {}).get((r, c), EMPTY)
            x, y = left + c * cell, top + r * cell
            parts.append(f"<rect x='{x}' y='{y}' width='{cell}' height='{cell}' fill='{fill}' stroke='#888'/>")
            if shown is None or shown(r, c):
                parts.append(f"<text x='{x + cell / 2}' y='{y + cell / 2 + font * 0.35}' font-size='{font}' "
                             f"text-anchor='middle'>{_number(values[r][c])}</text>")
    return left + columns * cell, top + rows * cell


def _outline(parts, left, top, cell, r, c, rows, columns):
    parts.append(f"<rect x='{left + c * cell}' y='{top + r * cell}' width='{columns * cell}' height='{rows * cell}' "
                 f"fill='none' stroke='{WINDOW}' stroke-width='5'/>")


def _frame(title, caption, parts):
    """A Frame whose SVG shows the title and caption above ``parts``."""
    return Frame(title, caption,
                 f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {WIDTH} {HEIGHT}' width='{WIDTH}' "
                 f"height='{HEIGHT}' font-family='Helvetica, Arial, sans-serif'>"
            "<style>.label{font-size:22px;font-weight:bold}.sign{font-size:40px}</style>"
            f"<rect width='{WIDTH}' height='{HEIGHT}' fill='white'/>"
            f"<text x='50' y='60' font-size='34' font-weight='bold'>{html.escape(title)}</text>"
            f"<text x='50' y='105' font-size='24' fill='#444'>{html.escape(caption)}</text>"
            + "".join(parts) + "</svg>")


def _window_cells(i, j, kh, kw):
    return {(i + a, j + b) for a in range(kh) for b in range(kw)}


def conv_frames(image=LECTURE_IMAGE, weight=LECTURE_FILTER, upstream=LECTURE_UPSTREAM):
    """The frames: the forward pass (a frame per window), col2im building dX, then X_colsᵀ · dY building dW."""
    n = conv_numbers(image, weight, upstream)
    kh, kw = n.weight.shape
    oh, ow = n.output.shape
    positions = [(i, j) for i in range(oh) for j in range(ow)]
    w_column = n.weight.reshape(-1, 1)
    frames = []
    for k, (i, j) in enumerate(positions):  # forward: window k -> row k of X_cols -> output k
        parts = []
        _grid(parts, 50, 200, n.image, 64, "image X (5x5)", {rc: ROW for rc in _window_cells(i, j, kh, kw)})
        _outline(parts, 50, 200, 64, i, j, kh, kw)
        right, _ = _grid(parts, 430, 200, n.windows, 52, "X_cols (9x9): a row per window",
                         {(k, c): ROW for c in range(kh * kw)}, shown=lambda r, c: r <= k)
        _outline(parts, 430, 200, 52, k, 0, 1, kh * kw)
        parts.append(f"<text x='{right + 14}' y='{200 + 52 * 4.7}' class='sign'>·</text>")
        right, _ = _grid(parts, right + 50, 200, w_column, 52, "W (9x1)")
        parts.append(f"<text x='{right + 14}' y='{200 + 52 * 4.7}' class='sign'>=</text>")
        _grid(parts, right + 70, 200, n.output, 90, "Y (3x3)", {(i, j): ROW}, shown=lambda r, c: r * ow + c <= k)
        _outline(parts, right + 70, 200, 90, i, j, 1, 1)
        row = " + ".join(f"{_number(a)}·{_number(b)}" for a, b in zip(n.windows[k], n.weight.reshape(-1)))
        parts.append(f"<text x='50' y='780' font-size='26'>Y[{i},{j}] = row {k + 1} of X_cols · W = {row} = "
                     f"{_number(n.output[i, j])}</text>")
        frames.append(_frame(f"Forward: window {k + 1} of {len(positions)}",
                             "im2col copies the window into a row of X_cols; the row times the filter is one output",
                             parts))
    dx = 0 * n.image
    for k, (i, j) in enumerate(positions):  # col2im: row k of dX_cols = dY[k] · Wᵀ, added into dX at window k
        dx = dx.copy()
        dx[i:i + kh, j:j + kw] += n.upstream[i, j] * n.weight
        parts = []
        _grid(parts, 50, 200, n.upstream, 90, "dY (3x3)", {(i, j): ROW})
        _outline(parts, 50, 200, 90, i, j, 1, 1)
        row = (n.upstream[i, j] * n.weight).reshape(1, -1)
        _grid(parts, 390, 200, n.weight.reshape(1, -1), 56, "Wᵀ (1x9)")
        _grid(parts, 390, 400, row, 56, f"row {k + 1} of dX_cols = dY[{i},{j}] · Wᵀ",
              {(0, c): ROW for c in range(kh * kw)})
        _grid(parts, 1000, 200, dx, 96, "dX (5x5), summed so far", {rc: ROW for rc in _window_cells(i, j, kh, kw)})
        _outline(parts, 1000, 200, 96, i, j, kh, kw)
        frames.append(_frame(f"Backward, dX: col2im adds window {k + 1} of {len(positions)}",
                             "each window's gradient row (dY · Wᵀ) is added back where the window sat; "
                             "overlapping windows add up", parts))
    dw = 0 * n.weight
    for k, (i, j) in enumerate(positions):  # dW = X_colsᵀ · dY: window k times dY[k], summed over windows
        dw = dw + n.upstream[i, j] * n.windows[k].reshape(kh, kw)
        parts = []
        _grid(parts, 50, 200, n.windows, 52, "X_cols (9x9, saved)", {(k, c): ROW for c in range(kh * kw)})
        _outline(parts, 50, 200, 52, k, 0, 1, kh * kw)
        _grid(parts, 580, 200, n.upstream.reshape(-1, 1), 52, "dY (9x1)", {(k, 0): ROW})
        _outline(parts, 580, 200, 52, k, 0, 1, 1)
        _grid(parts, 720, 200, n.image, 64, "its window in X", {rc: ROW for rc in _window_cells(i, j, kh, kw)})
        _outline(parts, 720, 200, 64, i, j, kh, kw)
        _grid(parts, 1140, 200, dw, 110, "dW (3x3), summed so far")
        parts.append(f"<text x='50' y='780' font-size='26'>dW += dY[{i},{j}] · window {k + 1} = "
                     f"{_number(n.upstream[i, j])} · (row {k + 1} of X_cols)</text>")
        frames.append(_frame(f"Backward, dW = X_colsᵀ · dY: window {k + 1} of {len(positions)}",
                             "each saved window times its output's gradient, added into dW", parts))
    return frames


def save_frames(frames, folder):
    """Write each frame as ``conv_01.svg``, ``conv_02.svg``, ... in ``folder``; returns the paths."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for k, frame in enumerate(frames, 1):
        path = os.path.join(folder, f"conv_{k:02d}.svg")
        with atomic_write(path, suffix=".svg") as f:
            f.write(frame.svg.encode("utf-8"))
        paths.append(path)
    return paths

"""The lecture's conv, animated: each frame's numbers are the lecture's, and sum up to the engine's gradients."""
import os
import re
import xml.etree.ElementTree as ET

import numpy as np

from tinygrad_cnn.viz.animation import conv_frames, conv_numbers, save_frames
from tinygrad_cnn.viz.graph import LECTURE_FILTER, LECTURE_IMAGE, LECTURE_UPSTREAM

CELL = re.compile(r"<text x='[\d.]+' y='[\d.]+' font-size='(\d+)' text-anchor='middle'>(-?[\d.]+)</text>")


def grid(svg, label, rows, columns):
    """The numbers shown in the grid titled ``label``, as a rows x columns array (blank cells as NaN)."""
    start = svg.index(f">{label}</text>")
    end = svg.find("class='label'", start + 1)
    section = svg[start:end if end > 0 else len(svg)]
    cells = re.findall(r"<rect [^>]*stroke='#888'/>(<text[^>]*>[^<]*</text>)?", section)
    values = [float(CELL.search(text).group(2)) if text else np.nan for text in cells]
    return np.array(values[:rows * columns]).reshape(rows, columns)


def test_the_engines_numbers_are_the_lectures():
    n = conv_numbers()
    image, weight, upstream = (np.array(a, float) for a in (LECTURE_IMAGE, LECTURE_FILTER, LECTURE_UPSTREAM))
    windows = np.array([image[i:i + 3, j:j + 3].reshape(-1) for i in range(3) for j in range(3)])
    np.testing.assert_array_equal(n.windows, windows)
    np.testing.assert_array_equal(n.output, [[4, 3, 4], [2, 4, 3], [2, 3, 4]])
    np.testing.assert_array_equal(n.dw, (windows.T @ upstream.reshape(-1)).reshape(3, 3))


def test_the_frames_build_x_cols_and_the_output_then_dx_and_dw_window_by_window():
    frames = conv_frames()
    n = conv_numbers()
    assert len(frames) == 27
    forward, col2im, dw = frames[:9], frames[9:18], frames[18:]
    for k, frame in enumerate(forward):
        x_cols = grid(frame.svg, "X_cols (9x9): a row per window", 9, 9)
        np.testing.assert_array_equal(x_cols[:k + 1], n.windows[:k + 1])  # the rows written so far
        assert np.isnan(x_cols[k + 1:]).all()
        y = grid(frame.svg, "Y (3x3)", 3, 3).reshape(-1)
        np.testing.assert_array_equal(y[:k + 1], n.output.reshape(-1)[:k + 1])
    assert "= 4</text>" in forward[4].svg and "Y[1,1] = row 5 of X_cols · W" in forward[4].svg
    total = np.zeros((5, 5))
    for k, frame in enumerate(col2im):
        i, j = divmod(k, 3)
        total[i:i + 3, j:j + 3] += n.upstream[i, j] * n.weight
        np.testing.assert_array_equal(grid(frame.svg, "dX (5x5), summed so far", 5, 5), total)
    np.testing.assert_array_equal(total, n.dx)  # the last frame is the engine's dX
    for k, frame in enumerate(dw):
        partial = sum(n.upstream.reshape(-1)[w] * n.windows[w].reshape(3, 3) for w in range(k + 1))
        np.testing.assert_array_equal(grid(frame.svg, "dW (3x3), summed so far", 3, 3), partial)
    np.testing.assert_array_equal(grid(dw[-1].svg, "dW (3x3), summed so far", 3, 3), n.dw)


def test_frames_are_16_9_svg_with_readable_numbers(tmp_path):
    frames = conv_frames()
    paths = save_frames(frames, tmp_path)
    assert [os.path.basename(p) for p in paths] == [f"conv_{k:02d}.svg" for k in range(1, 28)]
    for path in paths:
        root = ET.parse(path).getroot()
        assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("1600", "900", "0 0 1600 900")
        sizes = [int(size) for size, _ in CELL.findall(open(path, encoding="utf-8").read())]
        assert sizes and min(sizes) >= 20

"""The layer table reads receptive fields and jumps from the recorded graph: branches, merges and
shortcuts come out as computed by hand, and sequential models keep the lecture's numbers."""
from fractions import Fraction

import tinygrad_cnn as tg
from tinygrad_cnn import nn
from tinygrad_cnn.models import resnet8


def _columns(table):
    return {r["layer"]: (r["receptive_field"], r["jump"]) for r in table.rows}


def test_resnet8_fields_follow_each_path():
    table = tg.summary(resnet8(), (3, 32, 32), print_table=False)
    got = _columns(table)
    # by hand: 3x3 convs add 2 * jump; the 3x3 stride-2 conv of a stage doubles the jump after growing;
    # the 1x1 stride-2 shortcut keeps its input's field (that of the block's input) and doubles the jump
    expected = {
        "conv1 (Conv2d)": ("3", "1"),
        "layer1.0.conv1 (Conv2d)": ("5", "1"), "layer1.0.conv2 (Conv2d)": ("7", "1"),
        "+ layer1.0: add of 2 paths": ("7", "1"),
        "layer2.0.conv1 (Conv2d)": ("9", "2"), "layer2.0.conv2 (Conv2d)": ("13", "2"),
        "layer2.0.downsample.0 (Conv2d)": ("7", "2"), "layer2.0.downsample.1 (BatchNorm2d)": ("7", "2"),
        "+ layer2.0: add of 2 paths": ("13", "2"),
        "layer3.0.conv1 (Conv2d)": ("17", "4"), "layer3.0.conv2 (Conv2d)": ("25", "4"),
        "layer3.0.downsample.0 (Conv2d)": ("13", "4"),
        "+ layer3.0: add of 2 paths": ("25", "4"),
        "avgpool (AdaptiveAvgPool2d)": ("53", "32"),  # an 8x8 window at jump 4: 25 + 7 * 4
        "fc (Linear)": ("all", ""),
    }
    for layer, columns in expected.items():
        assert got[layer] == columns, layer
    layers = [r["layer"] for r in table.rows]
    # each merge row comes right after the last layer of the paths that meet there
    assert layers.index("+ layer2.0: add of 2 paths") == layers.index("layer2.0.downsample.1 (BatchNorm2d)") + 1
    assert table.total_params == sum(p.numel() for p in resnet8().parameters())
    assert "Rows starting with + are where paths of the graph meet" in str(table)


class TwoBranches(nn.Module):
    """A 3x3 branch and a 5x5-then-stride-2-pool branch of the same input, added; then a 3x3 conv."""

    def __init__(self, merge="add"):
        super().__init__()
        self.narrow = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2))
        self.wide = nn.Sequential(nn.Conv2d(1, 4, 5, padding=2), nn.Conv2d(4, 4, 5, padding=2), nn.MaxPool2d(2))
        self.head = nn.Conv2d(4 if merge == "add" else 8, 2, 3, padding=1)
        self.merge = merge

    def forward(self, x):
        a, b = self.narrow(x), self.wide(x)
        return self.head(a + b if self.merge == "add" else tg.cat([a, b], 1))


def test_two_branches_with_different_fields_merge_at_the_larger():
    got = _columns(tg.summary(TwoBranches(), (1, 16, 16), print_table=False))
    assert got["narrow.0 (Conv2d)"] == ("3", "1") and got["narrow.1 (MaxPool2d)"] == ("4", "2")
    assert got["wide.1 (Conv2d)"] == ("9", "1") and got["wide.2 (MaxPool2d)"] == ("10", "2")
    assert got["+ TwoBranches: add of 2 paths"] == ("10", "2")
    assert got["head (Conv2d)"] == ("14", "2")  # 10 + 2 * 2, from the wider branch
    rows = tg.summary(TwoBranches("cat"), (1, 16, 16), print_table=False).rows
    layers = [r["layer"] for r in rows]
    assert layers[-2:] == ["+ TwoBranches: cat of 2 paths", "head (Conv2d)"]
    assert rows[-2]["output"] == (8, 8, 8) and rows[-1]["receptive_field"] == "14"


def test_sequential_tables_are_unchanged_and_transposed_convs_halve_the_jump():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.ConvTranspose2d(2, 1, 4, stride=2))
    table = tg.summary(model, (1, 9, 9), print_table=False)
    assert [r["receptive_field"] for r in table.rows] == ["3", "5"]  # floor(3 / 2) + 1 = 2 inputs per output
    assert [r["jump"] for r in table.rows] == ["2", "1"]
    assert not any(r["layer"].startswith("+") for r in table.rows)
    up = tg.summary(nn.Sequential(nn.ConvTranspose2d(1, 1, 3, stride=2)), (1, 4, 4), print_table=False)
    assert up.rows[0]["jump"] == str(Fraction(1, 2)) and up.rows[0]["output"] == (1, 9, 9)
    assert up.rows[0]["mult_adds"] == 16 * 9

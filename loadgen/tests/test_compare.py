"""Unit tests of loadgen/compare's pure helpers (run by ./test.sh, stage
"scripts"). The script itself needs both servers and ten minutes; these
pin down the parts that decide which figure goes in the table."""

import importlib.machinery
import importlib.util
import math
from pathlib import Path

_path = Path(__file__).resolve().parents[1] / "compare"
_loader = importlib.machinery.SourceFileLoader("compare", str(_path))
_spec = importlib.util.spec_from_loader("compare", _loader)
compare = importlib.util.module_from_spec(_spec)
_loader.exec_module(compare)


def test_median_of_odd_and_even_counts():
    assert compare.median([3, 1, 2]) == 2
    assert compare.median([4, 1, 3, 2]) == 2.5


def test_median_leaves_out_rounds_that_gave_no_figure():
    # A round whose run failed gives None (a capacity ramp that never
    # sustained its first step) or NaN; the 06:45 run of 23 Nov crashed
    # comparing None with None.
    assert compare.median([None, 3.0, float("nan"), 1.0]) == 2.0
    assert math.isnan(compare.median([None, None]))
    assert math.isnan(compare.median([]))

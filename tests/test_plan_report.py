"""``prog.plan``: the steps each statement runs, their FLOPs, bytes, and the peak memory."""
from __future__ import annotations

import numpy as np

import tensorc as tc
from tensorc.cli import main

CONV_POOL = """\
Z[n, o, i, j] = relu(X[n, c, i + a, j + b] * W[o, c, a, b] + B[o])
P[n, o, i, j] = max(Z[n, o, 2*i + p, 2*j + q])   where p < 2, q < 2
"""


def test_matvec_plan_counts_by_hand():
    plan = tc.compile("Y[i] = A[i, k] * x[k]").plan_for(A=(3, 4), x=(4,))
    assert [(r.step, r.flops, r.bytes) for r in plan.rows] == [
        ("contract", 2 * 3 * 4, 4 * 3), ("write", None, 4 * 3)]
    # inputs (12 + 4 floats) + the product and Y (3 floats each), float32
    assert plan.peak == 4 * (12 + 4) + 4 * 3 + 4 * 3
    assert "peak memory about 88 bytes" in str(plan)


def test_conv_pool_plan_shows_each_step_and_counts():
    prog = tc.compile(CONV_POOL)
    assert "no shapes yet" in str(prog.plan)
    x, w, b = np.ones((2, 3, 10, 10)), np.ones((4, 3, 3, 3)), np.ones(4)
    prog(X=x, W=w, B=b)
    plan = prog.plan                              # the last call's shapes, float64: 8 bytes
    steps = [r.step for r in plan.rows]
    assert steps == ["layout", "view", "contract", "elementwise", "elementwise", "write",
                     "view", "reduce", "write"]
    layout, view, contract = plan.rows[:3]
    assert layout.bytes == 8 * x.size and layout.flops == 0    # one transposed copy of X
    assert view.bytes == 0 and "zero-copy" in view.detail
    assert contract.flops == 2 * (2 * 4 * 8 * 8) * (3 * 3 * 3)
    z, p = 8 * 2 * 4 * 8 * 8, 8 * 2 * 4 * 4 * 4
    inputs = 8 * (x.size + w.size + b.size)
    # statement 1 holds its transposed copy, the product, the sum and relu, and Z
    assert plan.peak == inputs + 8 * x.size + 3 * z + z
    assert plan.flops == sum(r.flops or 0 for r in plan.rows)
    assert plan.bytes == sum(r.bytes or 0 for r in plan.rows) and p in [r.bytes for r in
                                                                        plan.rows]


def test_plan_command_prints_the_table(tmp_path, capsys):
    spec = tmp_path / "conv.tc"
    spec.write_text(CONV_POOL)
    assert main(["plan", str(spec), "--shape", "X=2x3x10x10", "--shape", "W=4x3x3x3",
                 "--shape", "B=4"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("plan for X[2, 3, 10, 10], W[4, 3, 3, 3], B[4]")
    assert "contract" in out and "peak memory about" in out

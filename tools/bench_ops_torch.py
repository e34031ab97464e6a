#!/usr/bin/python3
"""The PyTorch side of `reverie bench ops --compare-torch`: times one op case
per request, on the same shapes as the Reverie case, in fp32 on the CPU.
Not a test: it times.

Protocol (stdin/stdout, one line each): it prints "ready" once torch is
imported, then for each request line "OP P0 P1 P2 P3 P4 P5 SECONDS" (OP is
the name in rv_op_names, the Ps the case's shape numbers as in
frontend/cmd_bench.c) it answers the median milliseconds per call, or
"error MESSAGE". Ends at end of input. By hand:

    echo "conv2d 64 64 64 64 3 1 1.0" | OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tools/bench_ops_torch.py --threads 2
"""

import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def rand(*shape, scale=1.0):
    return (torch.rand(*shape) * 2 - 1) * scale


def make_case(op, p):
    """Returns a no-argument callable running the op once, operands made."""
    if op == "conv2d":
        cin, h, w, cout, k = p[:5]
        x, wt, b = rand(1, cin, h, w), rand(cout, cin, k, k, scale=0.05), rand(cout, scale=0.1)
        return lambda: F.conv2d(x, wt, b, padding=k // 2)
    if op == "gemm":  # a linear layer without bias: [M,K] @ [N,K]^T
        m, n, k = p[:3]
        x, wt = rand(m, k), rand(n, k, scale=0.05)
        return lambda: F.linear(x, wt)
    if op == "attention":  # lq, lk, heads, dim: softmax(q k^T / sqrt(dim)) v per head
        lq, lk, heads, dim = p[:4]
        q, k, v = rand(heads, lq, dim), rand(heads, lk, dim), rand(heads, lk, dim)
        scale = dim ** -0.5

        def attn():
            return torch.bmm(torch.softmax(torch.baddbmm(torch.empty(heads, lq, lk), q, k.transpose(1, 2),
                                                         beta=0, alpha=scale), dim=-1), v)
        return attn
    if op == "group_norm":  # C, HW, groups, followed by SiLU as the bench case
        c, hw, groups = p[:3]
        x, g, b = rand(1, c, hw), rand(c), rand(c)
        return lambda: F.silu(F.group_norm(x, groups, g, b, 1e-5))
    if op == "layer_norm":
        rows, c = p[:2]
        x, g, b = rand(rows, c), rand(c), rand(c)
        return lambda: F.layer_norm(x, (c,), g, b, 1e-5)
    if op == "geglu":  # rows, n: [rows, 2n] -> [rows, n]
        rows, n = p[:2]
        x = rand(rows, 2 * n)

        def geglu():
            a, gate = x.chunk(2, dim=-1)
            return a * F.gelu(gate)
        return geglu
    if op == "unary":  # SiLU
        x = rand(p[0])
        return lambda: F.silu(x)
    if op == "binary":  # add
        a, b, out = rand(p[0]), rand(p[0]), torch.empty(p[0])
        return lambda: torch.add(a, b, out=out)
    if op == "upsample2x":
        c, h, w = p[:3]
        x = rand(1, c, h, w)
        return lambda: F.interpolate(x, scale_factor=2, mode="nearest")
    raise ValueError(f"unknown op {op}")


def time_case(fn, seconds):
    fn()  # warm-up
    times, t_end = [], time.perf_counter() + seconds
    while len(times) < 3 or (time.perf_counter() < t_end and len(times) < 1000):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print("ready", flush=True)
    with torch.no_grad():
        for line in sys.stdin:
            f = line.split()
            if not f:
                continue
            try:
                op, p, seconds = f[0], [int(v) for v in f[1:7]], float(f[7])
                print(f"{time_case(make_case(op, p), seconds):.6f}", flush=True)
            except (ValueError, IndexError, RuntimeError) as e:
                print(f"error {e}".replace("\n", " "), flush=True)


if __name__ == "__main__":
    main()

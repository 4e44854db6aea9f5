"""Dask backend benchmark: tensorc's ``backend="dask"`` on a ``distributed.LocalCluster``
(worker processes, one thread each), beside the same computation written by hand in
dask.array, all in one run.

Run: python benchmarks/bench_dask.py            (about 3-5 minutes on 2 cores)
     python benchmarks/bench_dask.py --quick    (small smoke run, under a minute)
     python benchmarks/bench_dask.py --part a   (only the out-of-core part; b: scaling)

(a) Out of core. Two contractions whose operands or output are several times one worker's
    ``memory_limit`` (2 workers, ``--memory-limit`` each, default 400MiB), on inputs made
    lazily by ``da.random`` so that no process ever holds them whole; only a small result
    reaches the client:
      a1  S[i] = A[i, k] * B[k, j] * v[j]      (big operands; returns the vector S)
      a2  C[i, j] = A[i, k] * B[k, j]          (big output; ``prog.lazy`` then ``.sum()``)
    Anchors: ``A @ (B @ v)`` and ``(A @ B).sum()`` in dask.array. Every run gets a fresh
    cluster (new worker processes); a thread on each worker polls its resident
    set size (psutil RSS every 5 ms) from before the submit until the result is back and
    returns the maximum. ``ru_maxrss`` (the kernel's high-water mark since the worker started)
    is printed beside it as a cross-check, and so is what the worker spilled to disk.
    Distributed's default thresholds apply: spill at 60%/70%, pause at 80%, the nanny
    kills a worker at 95% of ``memory_limit`` (a killed worker is reported, not hidden).

(b) Scaling. A batched convolution with bias and ReLU,
      Y[n, o, i, j] = relu(X[n, c, i + a, j + b] * W[o, c, a, b] + B[o])
    X (N, 16, 64, 64) float32 chunked along the batch and persisted on the workers before
    timing, W (32, 16, 3, 3), B (32,) NumPy. Timed on a 1-worker and on a 2-worker cluster
    (one thread each): tensorc's dask backend, and by hand ``X.map_blocks`` of a NumPy
    block function (NHWC im2col via ``sliding_window_view``, one GEMM, + bias, ReLU). A
    diagnostic row maps tensorc's own NumPy program over the blocks (what the backend
    would cost if each block ran one kernel). Two modes: "persist" leaves Y on the
    workers (``prog.lazy(...)`` / ``.persist()``, then wait), "to client" returns Y as one
    NumPy array (``prog(...)`` / ``.compute()``). Times are medians of ``--reps``
    round-robin rounds after one warm-up each. ``--no-malloc-trim`` starts the workers
    without distributed's default MALLOC_TRIM_THRESHOLD_=65536 (a diagnostic).

Prints markdown tables (machine, versions and load noted). If tensorc's dask backend is
missing or fails, the error is printed in its rows and the anchors still run.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import functools  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402

import dask  # noqa: E402
import dask.array as da  # noqa: E402
import distributed  # noqa: E402
import numpy as np  # noqa: E402
import opt_einsum  # noqa: E402
import psutil  # noqa: E402
from distributed import Client, LocalCluster, wait  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

import tensorc as tc  # noqa: E402

# dashboard_address=None still starts the scheduler's HTTP endpoint; another cluster on
# the machine holding port 8787 only moves it elsewhere
warnings.filterwarnings("ignore", message="Port 8787 is already in use")
MiB = 2**20
TABLES = []            # markdown lines, printed together at the end
CONV_SPEC = "Y[n, o, i, j] = relu(X[n, c, i + a, j + b] * W[o, c, a, b] + B[o])"
A1_SPEC = "S[i] = A[i, k] * B[k, j] * v[j]"
A2_SPEC = "C[i, j] = A[i, k] * B[k, j]"


# ----------------------------------------------------------------------------- helpers
def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False, cwd=os.path.dirname(__file__)).stdout.strip()
    except OSError:
        commit = "?"
    return (f"{cpu}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
            f"Python {platform.python_version()}, NumPy {np.__version__}, dask {dask.__version__}, "
            f"distributed {distributed.__version__}, opt_einsum {opt_einsum.__version__}, "
            f"tensorc {commit}")


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def row(cells):
    TABLES.append("| " + " | ".join(str(c) for c in cells) + " |")


def header(title, columns, notes=()):
    TABLES.extend(["", f"### {title}", "", *notes, *([""] if notes else [])])
    row(columns)
    row(["---"] * len(columns))


def rel_err(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def ntasks(x) -> int:
    return len(x.__dask_graph__())


def fmt_mib(nbytes: float) -> str:
    return f"{nbytes / MiB:,.0f} MiB"


def short_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ").replace("|", "/")
    return text if len(text) < 120 else text[:117] + "..."


# ------------------------------------------------------ peak memory of every worker
def _mem_start(dask_worker, interval):
    """Start a thread in the worker process that polls its RSS; returns the RSS now."""
    import psutil as _ps
    proc = _ps.Process()
    state = {"peak": proc.memory_info().rss, "stop": threading.Event(), "pid": os.getpid()}
    state["start"] = state["peak"]

    def poll():
        while not state["stop"].wait(interval):
            rss = proc.memory_info().rss
            state["peak"] = max(state["peak"], rss)

    state["thread"] = threading.Thread(target=poll, daemon=True, name="bench-mem")
    state["thread"].start()
    dask_worker._bench_mem = state
    return state["start"]


def _mem_stop(dask_worker):
    """Stop the polling thread; peak RSS, ru_maxrss and bytes spilled to disk."""
    import resource
    state = getattr(dask_worker, "_bench_mem", None)
    if state is None:                # a fresh process: the one we watched was killed
        return None
    state["stop"].set()
    state["thread"].join()
    metrics = getattr(dask_worker.data, "cumulative_metrics", {})
    return {"start": state["start"], "peak": state["peak"],
            "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "spilled": metrics.get(("disk-write", "bytes"), 0.0)}


def _malloc_trim_env():
    return os.environ.get("MALLOC_TRIM_THRESHOLD_", "unset")


def _import_tensorc():
    import tensorc  # noqa: F401  (the sympy/lark import is ~50 MiB; done before timing)


class ClientMemory:
    """The same polling in this (the client) process."""

    def __enter__(self):
        self.proc, self.stop = psutil.Process(), threading.Event()
        self.start = self.peak = self.proc.memory_info().rss

        def poll():
            while not self.stop.wait(0.005):
                self.peak = max(self.peak, self.proc.memory_info().rss)

        self.thread = threading.Thread(target=poll, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def measured_run(cluster_kwargs: dict, fn, with_tensorc: bool):
    """Run ``fn()`` once on a fresh cluster (new worker processes, so ``ru_maxrss`` starts
    from the imports), polling memory; (result, seconds, per-worker stats or None where
    the worker died, client (start, peak) RSS, error). A fresh cluster rather than
    ``client.restart()``: restarts twice hung here for minutes while other dask test
    suites ran on the machine."""
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as scratch, \
            LocalCluster(local_directory=scratch, **cluster_kwargs) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(cluster_kwargs["n_workers"], timeout=120)
        if with_tensorc:
            client.run(_import_tensorc)
        workers = sorted(client.run(_mem_start, interval=0.005))
        result, error = None, None
        with ClientMemory() as cm:
            start = time.perf_counter()
            try:
                result = fn()
            except Exception as exc:  # noqa: BLE001 - reported in the table
                error = exc
                traceback.print_exc()
            seconds = time.perf_counter() - start
        stats = client.run(_mem_stop)
    per_worker = [stats.get(w) for w in workers]
    return result, seconds, per_worker, (cm.start, cm.peak), error


# ------------------------------------------------------------------- (a) out of core
def part_a(args):
    q = args.quick
    # a1: big operands, tiny result.  a2: big output, reduced on the workers.
    n1, c1 = (6000, 1000) if q else (20000, 2000)
    n2, k2, c2 = (6000, 500, 1000) if q else (16000, 1000, 2000)
    dt = np.float64
    item = np.dtype(dt).itemsize

    def a1_inputs():
        rng = da.random.default_rng(1)
        return (rng.random((n1, n1), chunks=c1, dtype=dt),
                rng.random((n1, n1), chunks=c1, dtype=dt), rng.random((n1,), chunks=c1, dtype=dt))

    def a2_inputs():
        rng = da.random.default_rng(2)
        return (rng.random((n2, k2), chunks=(c2, k2), dtype=dt),
                rng.random((k2, n2), chunks=(k2, c2), dtype=dt))

    cases = [
        dict(name=f"a1 `{A1_SPEC}`, A, B {n1}x{n1} float64, chunks {c1}x{c1}",
             size=f"A+B {fmt_mib(2 * n1 * n1 * item)}, S {n1 * item / 1024:.0f} KiB",
             spec=A1_SPEC, inputs=a1_inputs,
             tensorc=lambda prog, A, B, v: prog(A=A, B=B, v=v)["S"],
             tensorc_graph=lambda prog, A, B, v: prog.lazy(A=A, B=B, v=v)["S"],
             hand=lambda A, B, v: A @ (B @ v), hand_name="`(A @ (B @ v)).compute()`",
             reduce=False),
        dict(name=f"a2 `{A2_SPEC}`, then `.sum()`; A {n2}x{k2}, B {k2}x{n2} float64, "
                  f"chunks {c2}x{k2}",
             size=f"A+B {fmt_mib(2 * n2 * k2 * item)}, C {fmt_mib(n2 * n2 * item)}",
             spec=A2_SPEC, inputs=a2_inputs,
             tensorc=lambda prog, A, B: prog.lazy(A=A, B=B)["C"].sum().compute(),
             tensorc_graph=lambda prog, A, B: prog.lazy(A=A, B=B)["C"].sum(),
             hand=lambda A, B: (A @ B).sum(), hand_name="`(A @ B).sum().compute()`",
             reduce=True),
    ]
    limit = args.memory_limit
    header(f"(a) out of core: 2 workers x 1 thread, memory_limit {limit} each",
           ["case", "implementation", "wall s", "ratio", "data", "tasks",
            "RSS at start MiB (w0 / w1)", "peak RSS MiB (w0 / w1)", "ru_maxrss MiB",
            "spilled MiB", "client peak +MiB", "check"],
           [("Every run gets a fresh cluster. Peak RSS: a thread in each worker polls psutil "
             "RSS every 5 ms during the run; ru_maxrss is the kernel's high-water mark since "
             "the worker started. The nanny kills a worker at 95% of memory_limit. `ratio` "
             "is tensorc / dask.array. \"client peak +MiB\" is the growth of this process's "
             "RSS during the run.")])
    cluster_kwargs = dict(n_workers=2, processes=True, host="127.0.0.1", dashboard_address=None,
                          threads_per_worker=1, memory_limit=limit)
    for case in cases:
        print(f"\n(a) {case['name']}", flush=True)
        arrays = case["inputs"]()
        hand_lazy = case["hand"](*arrays)
        runs = {}
        try:
            prog = tc.compile(case["spec"], backend="dask")
            try:
                graph = ntasks(case["tensorc_graph"](prog, *arrays))
            except Exception as exc:  # noqa: BLE001
                graph = f"? ({short_error(exc)})"
            run = functools.partial(case["tensorc"], prog, *arrays)
            runs["tensorc"] = (measured_run(cluster_kwargs, run, True), graph)
        except Exception as exc:  # noqa: BLE001 - e.g. the backend is not there yet
            traceback.print_exc()
            runs["tensorc"] = ((None, float("nan"), [], (0, 0), exc), "-")
        runs["dask"] = (measured_run(cluster_kwargs, hand_lazy.compute, False),
                        ntasks(hand_lazy))
        want = runs["dask"][0][0]
        base = runs["dask"][0][1] if runs["dask"][0][4] is None else float("nan")
        for impl in ("tensorc", "dask"):
            (result, seconds, per_worker, (c0, c1_), error), graph = runs[impl]
            label = "tensorc dask backend" if impl == "tensorc" else case["hand_name"]
            if error is not None:
                row([case["name"], label, "failed", "", case["size"], graph, "", "", "",
                     "", "", short_error(error)])
                continue
            died = sum(w is None for w in per_worker)
            alive = [w for w in per_worker if w is not None]
            check = "-" if want is None else f"rel err {rel_err(result, want):.1e}"
            if died:
                check += f"; {died} worker(s) killed and restarted"
            row([case["name"], label, f"{seconds:.1f}",
                 f"{seconds / base:.2f}x" if impl == "tensorc" else "1.00x",
                 case["size"], graph,
                 " / ".join(f"{w['start'] / MiB:.0f}" for w in alive),
                 " / ".join(f"{w['peak'] / MiB:.0f}" for w in alive),
                 " / ".join(f"{w['maxrss'] / MiB:.0f}" for w in alive),
                 " / ".join(f"{w['spilled'] / MiB:.0f}" for w in alive),
                 f"{(c1_ - c0) / MiB:.0f}", check])
            print(f"  {label}: {seconds:.2f} s, peak RSS "
                  f"{[round(w['peak'] / MiB) for w in alive]} MiB, "
                  f"maxrss {[round(w['maxrss'] / MiB) for w in alive]} MiB, "
                  f"spilled {[round(w['spilled'] / MiB) for w in alive]} MiB, {check}",
                  flush=True)


# ------------------------------------------------------------------------ (b) scaling
def hand_conv_block(x, w, b):
    """One batch block of relu(conv(x, w) + b), NCHW in and out, valid: im2col as a
    textbook would (input to NHWC, the strided window view copied into one
    (n*i*j, a*b*c) matrix), one BLAS GEMM, bias and ReLU in place, back to NCHW."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    ho, wo = h - kh + 1, wd - kw + 1
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))                        # n h w c
    cols = sliding_window_view(xh, (kh, kw), axis=(1, 2))                     # n i j c a b
    cols = cols.transpose(0, 1, 2, 4, 5, 3).reshape(n * ho * wo, kh * kw * c)  # copies
    y = cols @ w.transpose(2, 3, 1, 0).reshape(kh * kw * c, o)                # (nij, o)
    y += b
    np.maximum(y, 0, out=y)
    return np.ascontiguousarray(y.reshape(n, ho, wo, o).transpose(0, 3, 1, 2))


def hand_conv(X, W, B):
    o, _, kh, kw = W.shape
    ho, wo = X.shape[2] - kh + 1, X.shape[3] - kw + 1
    return X.map_blocks(hand_conv_block, W, B, chunks=(X.chunks[0], (o,), (ho,), (wo,)),
                        dtype=X.dtype, meta=np.empty((0, 0, 0, 0), X.dtype))


def np_conv_block(xb, w, b):
    """tensorc's NumPy program for CONV_SPEC on one block, compiled once per worker process
    (kept on the worker object: a compiled Program shipped inside every task costs a
    pickle per task)."""
    try:
        holder = distributed.get_worker()
    except ValueError:              # not in a worker (a local scheduler)
        holder = np_conv_block
    prog = getattr(holder, "_bench_conv_program", None)
    if prog is None:
        prog = holder._bench_conv_program = tc.compile(CONV_SPEC)
    return prog(X=xb, W=w, B=b)["Y"]


def per_block(X, W, B):
    """Diagnostic: tensorc's NumPy program (its own kernel) applied to each batch block
    by ``map_blocks``: what the Dask backend would cost if each block ran one kernel."""
    o, _, kh, kw = W.shape
    ho, wo = X.shape[2] - kh + 1, X.shape[3] - kw + 1
    return X.map_blocks(np_conv_block, W, B, chunks=(X.chunks[0], (o,), (ho,), (wo,)),
                        dtype=X.dtype, meta=np.empty((0, 0, 0, 0), X.dtype))


def _scheduler_tasks(dask_scheduler):
    return len(dask_scheduler.tasks)


def settle(client, keep: int, timeout: float = 30.0) -> None:
    """Wait until the scheduler has forgotten every task but the ``keep`` persisted input
    chunks. The implementations' keys are deterministic, so without this a run could
    fetch the results of the previous round's still-unreleased identical keys."""
    deadline = time.perf_counter() + timeout
    while client.run_on_scheduler(_scheduler_tasks) > keep:
        if time.perf_counter() > deadline:
            raise RuntimeError("scheduler still holds results of an earlier run")
        time.sleep(0.01)


def conv_runs(prog, X, W, B) -> dict:
    """(implementation, mode) -> a function running it once."""
    fns = {}
    if prog is not None:
        fns["tensorc", "persist"] = lambda: wait(prog.lazy(X=X, W=W, B=B)["Y"].persist())
        fns["tensorc", "to client"] = lambda: prog(X=X, W=W, B=B)["Y"]
    fns["blocks", "persist"] = lambda: wait(per_block(X, W, B).persist())
    fns["blocks", "to client"] = lambda: per_block(X, W, B).compute()
    fns["hand", "persist"] = lambda: wait(hand_conv(X, W, B).persist())
    fns["hand", "to client"] = lambda: hand_conv(X, W, B).compute()
    return fns


def part_b(args):
    n = args.batch or (64 if args.quick else 256)
    nb = args.batch_chunk or (8 if args.quick else 16)
    c, o, hw, k = 16, 32, 64, 3
    reps = args.reps or (3 if args.quick else 7)
    rng = np.random.default_rng(0)
    W = (rng.standard_normal((o, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32)
    B = (0.1 * rng.standard_normal(o)).astype(np.float32)
    try:
        prog = tc.compile(CONV_SPEC, backend="dask")
        prog_error = None
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        prog, prog_error = None, exc

    times, graphs, errors, checks = {}, {}, {}, {}
    for workers in (1, 2):
        print(f"\n(b) conv, batch {n} in chunks of {nb}, {workers} worker(s)", flush=True)
        with LocalCluster(n_workers=workers, processes=True, host="127.0.0.1",
                          dashboard_address=None, threads_per_worker=1) as cluster, \
                Client(cluster) as client:
            client.run(_import_tensorc)
            trim = set(client.run(_malloc_trim_env).values())
            X = da.random.default_rng(3).standard_normal((n, c, hw, hw), chunks=(nb, c, hw, hw),
                                                         dtype=np.float32).persist()
            wait(X)
            fns = conv_runs(prog, X, W, B)

            want = hand_conv(X, W, B).compute()
            graphs["hand"] = ntasks(hand_conv(X, W, B))
            graphs["blocks"] = ntasks(per_block(X, W, B))
            checks_np = rel_err(per_block(X, W, B).compute(), want)
            print(f"  max rel err, NumPy program per block vs hand: {checks_np:.1e}")
            if prog is not None:
                try:
                    got = prog(X=X, W=W, B=B)["Y"]
                    checks[workers] = rel_err(got, want)
                    graphs["tensorc"] = ntasks(prog.lazy(X=X, W=W, B=B)["Y"])
                    del got
                except Exception as exc:  # noqa: BLE001
                    traceback.print_exc()
                    errors["tensorc"] = exc
                    fns = {key: fn for key, fn in fns.items() if key[0] != "tensorc"}
            del want
            samples = {key: [] for key in fns}
            for rnd in range(reps + 1):
                for key, fn in fns.items():
                    settle(client, X.npartitions)
                    start = time.perf_counter()
                    fn()
                    if rnd:                      # round 0 is the warm-up
                        samples[key].append(time.perf_counter() - start)
            for key, s in samples.items():
                times[key + (workers,)] = statistics.median(s)
                print(f"  {key[0]:8s} {key[1]:10s}: median {statistics.median(s):.3f} s, "
                      f"min {min(s):.3f} s ({reps} rounds)", flush=True)

    flops = 2 * n * o * (hw - k + 1) ** 2 * c * k * k
    out_mib = n * o * (hw - k + 1) ** 2 * 4 / MiB
    header(f"(b) scaling: `{CONV_SPEC}`",
           ["implementation", "mode", "1 worker s", "2 workers s", "speed-up 2w/1w",
            "tensorc / hand (1w)", "tensorc / hand (2w)", "tasks"],
           [f"X ({n}, {c}, {hw}, {hw}) float32 in batch chunks of {nb} (persisted on the "
            f"workers), W ({o}, {c}, {k}, {k}), B ({o},); Y {out_mib:.0f} MiB, "
            f"{flops / 1e9:.1f} GFLOP. threads_per_worker=1. Medians of {reps} round-robin "
            f"rounds after one warm-up. Workers' MALLOC_TRIM_THRESHOLD_: {', '.join(trim)}. "
            f"Max rel err tensorc vs hand: "
            + (", ".join(f"{e:.1e} ({w}w)" for w, e in checks.items()) or "-") + "."])
    labels = {"tensorc": "tensorc dask backend",
              "blocks": "diagnostic: `X.map_blocks` of tensorc's NumPy program",
              "hand": "`X.map_blocks` (NumPy im2col + GEMM per block)"}
    for impl in ("tensorc", "blocks", "hand"):
        for mode in ("persist", "to client"):
            t1, t2 = times.get((impl, mode, 1)), times.get((impl, mode, 2))
            if t1 is None or t2 is None:
                err = errors.get(impl) or prog_error
                row([labels[impl], mode, "failed", "", "", "", "",
                     short_error(err) if err else "-"])
                continue
            h1, h2 = times[("hand", mode, 1)], times[("hand", mode, 2)]
            row([labels[impl], mode, f"{t1:.3f}", f"{t2:.3f}", f"{t1 / t2:.2f}x",
                 f"{t1 / h1:.2f}x", f"{t2 / h2:.2f}x", graphs.get(impl, "-")])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run, < 1 min)")
    parser.add_argument("--part", choices=("a", "b", "all"), default="all")
    parser.add_argument("--memory-limit", default="400MiB", help="per worker, part (a)")
    parser.add_argument("--batch", type=int, help="part (b) batch size N (default 256)")
    parser.add_argument("--batch-chunk", type=int, help="part (b) batch chunk (default 16)")
    parser.add_argument("--reps", type=int, help="part (b) timed rounds (default 7)")
    parser.add_argument("--no-malloc-trim", action="store_true",
                        help="diagnostic: start workers without distributed's default "
                             "MALLOC_TRIM_THRESHOLD_=65536 (which makes every large "
                             "temporary a fresh mmap that page-faults)")
    args = parser.parse_args()
    if args.no_malloc_trim:
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
        environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ})
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)   # the nanny also exports it here
    print("Worker pre-spawn environment:",
          dask.config.get("distributed.nanny.pre-spawn-environ"))
    where = machine()           # once: the commit may move on while this runs
    print("Machine:", where)
    print("Before:", load(), flush=True)
    started = time.perf_counter()
    if args.part in ("a", "all"):
        part_a(args)
    if args.part in ("b", "all"):
        part_b(args)
    print(f"\nMachine: {where}")
    print(f"After: {load()}; total {time.perf_counter() - started:.0f} s")
    print("\n".join(TABLES))


if __name__ == "__main__":
    main()

"""Run one module-level function over a list of tasks in worker processes.

Why not multiprocessing: its spawn and forkserver workers re-import the parent's
``__main__``. Inside dbt that is the dbt script, i.e. all of dbt (~2 s per
worker before the first fit), and fork is unsafe in dbt's multi-threaded
process. A worker here is ``python -m quant_safety.workers``: it imports
only the function's module, reads its share of the tasks (pickle) from stdin,
and writes the results (or the traceback of the first failure) to stdout.
"""
from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import threading
import traceback
from concurrent.futures import Future

from .processes import child_command  # workers die with dbt (and dbt with the build)


def shares_by_weight(weights: list[float], start_loads: list[float]) -> list[list[int]]:
    """Task indices per side, one side per entry of `start_loads` (its load before any
    task): heaviest first, each to the least loaded side (longest-processing-time rule;
    ties to the lower side, so it is deterministic). A side may get no task."""
    loads = list(start_loads)
    shares: list[list[int]] = [[] for _ in loads]
    for i in sorted(range(len(weights)), key=lambda i: (-weights[i], i)):
        w = min(range(len(loads)), key=lambda k: (loads[k], k))
        shares[w].append(i)
        loads[w] += weights[i]
    return [sorted(s) for s in shares]


def split(weights: list[float], workers: int) -> list[list[int]]:
    """Task indices per worker (shares_by_weight), without empty shares: no idle worker."""
    return [s for s in shares_by_weight(weights, [0.0] * workers) if s]


def run_in_workers(fn, tasks: list, workers: int, weight=None) -> list:
    """``[fn(t) for t in tasks]`` computed by ``workers`` processes, in task order.

    A failure inside ``fn`` raises RuntimeError with the worker's traceback; a
    worker that dies (killed, out of memory) raises RuntimeError with its exit
    code. Nothing is retried in this process: a failure is a failure either way.
    """
    weights = [float(weight(t)) if weight else 1.0 for t in tasks]
    shares = split(weights, workers)
    target = (fn.__module__, fn.__qualname__)
    procs = []
    try:
        for _share in shares:
            proc = subprocess.Popen(child_command([sys.executable, "-m", "quant_safety.workers"]),
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            procs.append(proc)
        # every worker gets its tasks before any result is read: they run at once
        for proc, share in zip(procs, shares):
            proc.stdin.write(pickle.dumps((target, [tasks[i] for i in share]), protocol=pickle.HIGHEST_PROTOCOL))
            proc.stdin.close()
        out: list = [None] * len(tasks)
        for proc, share in zip(procs, shares):
            payload = proc.stdout.read()
            code = proc.wait()
            if code != 0 or not payload:
                raise RuntimeError(f"quant_safety worker for {fn.__qualname__} exited with code {code}")
            status, value = pickle.loads(payload)
            if status != "ok":
                raise RuntimeError(f"quant_safety worker: {fn.__qualname__} failed:\n{value}")
            for i, result in zip(share, value):
                out[i] = result
        return out
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def in_worker(fn, task) -> Future:
    """A future of ``fn(task)``, computed by one worker process while the caller goes on
    with its own share of the work (a thread waits on the worker's pipe). On one core it
    is computed here, at once."""
    future: Future = Future()
    if (os.cpu_count() or 1) < 2:
        try:
            future.set_result(fn(task))
        except Exception as exc:  # noqa: BLE001 - raised by result(), as from a worker
            future.set_exception(exc)
        return future

    def run() -> None:
        try:
            future.set_result(run_in_workers(fn, [task], 1)[0])
        except BaseException as exc:  # noqa: BLE001 - raised by result() in the caller
            future.set_exception(exc)

    threading.Thread(target=run, name=f"worker-{fn.__name__}", daemon=True).start()
    return future


def _main() -> int:
    (module, name), tasks = pickle.load(sys.stdin.buffer)
    try:
        fn = importlib.import_module(module)
        for part in name.split("."):
            fn = getattr(fn, part)
        result = ("ok", [fn(t) for t in tasks])
    except BaseException:  # noqa: BLE001 - the parent raises it with this traceback
        result = ("error", traceback.format_exc())
    sys.stdout.buffer.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main())

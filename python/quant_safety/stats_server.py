"""The statistics tables of a `qsafety build`, computed in one server process
beside dbt instead of inside it.

dbt runs its Python models (models/stats/) in its own process, on the
interpreter lock its worker threads share: importing the statistics stack
(scipy, statsmodels, pingouin: ~4 s of a demo build's locked time) and the fits
held it while the other dbt thread waited to compile and run its nodes. The
build therefore starts this server before dbt (`serving`): it imports the stack
while dbt parses the project (one core's work, the other core is free) and then
computes each table a dbt Python model asks for (each in a thread of its own,
so that a cheap table does not wait behind a slow one), with the same function
(`quant_safety.stats.models.compute`) in the same environment (the fit cache
dir, one BLAS thread), so the numbers are the same bit for bit. dbt's lock is
free meanwhile. When its imports are done it says so (`on_loaded`): the build
starts its own background imports (the gate's) then, not beside it, so that
dbt's start and parse keep a core to themselves.

The model side is `compute`: it sends the table's name and input frames over a
local socket (multiprocessing.connection: length-framed pickles, after an HMAC
challenge with a random per-build key that only the build's processes get, in
their environment) and gets the table, or the server's traceback, back. Without
a server (a plain `dbt build`, the tests, a partial build) or when none answers,
the model computes in its own process as before. This module imports nothing of
the statistics stack itself: dbt's process loads it only when it computes there.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Listener
from pathlib import Path

from .processes import child_command

ENV_ADDRESS = "QSAFETY_STATS_SERVER"
ENV_KEY = "QSAFETY_STATS_SERVER_KEY"
_STOP = "stop"
FAMILY = "AF_UNIX"
# Linux abstract sockets: no file to clean up, no path-length limit. Elsewhere
# there is no server and the models compute in dbt's process.
AVAILABLE = sys.platform.startswith("linux")


def _address_from_env(value: str) -> str:
    # an environment value cannot hold the NUL that starts an abstract address
    return "\0" + value.removeprefix("@")


def compute(name: str, **inputs):
    """The statistics table `name` (quant_safety.stats.models.compute), from the
    build's server when there is one, else computed here."""
    value = os.environ.get(ENV_ADDRESS)
    if value:
        try:
            conn = Client(_address_from_env(value), family=FAMILY, authkey=bytes.fromhex(os.environ.get(ENV_KEY, "")))
        except (OSError, ValueError, AuthenticationError) as exc:
            print(f"quant_safety statistics server not reachable ({exc}); computing {name} in dbt's process",
                  file=sys.stderr)
        else:
            with conn:
                conn.send((name, inputs))
                try:
                    status, result = conn.recv()
                except EOFError:
                    raise RuntimeError(f"the statistics server stopped while computing {name}") from None
            if status == "ok":
                return result
            raise RuntimeError(f"statistics table {name} failed in the statistics server:\n{result}")
    from .stats.models import compute as compute_here

    return compute_here(name, **inputs)


@contextlib.contextmanager
def serving(env: dict, log: Path | None = None, preload: bool = True,
            on_loaded: Callable[[], None] | None = None) -> Iterator[dict]:
    """Run a server for the block; yields the environment entries that point a
    dbt process at it. `env` is the server's environment (the one dbt gets: the
    fit cache dir and the BLAS thread counts must be the same); what the server
    prints (warnings, tracebacks) goes to `log` (default: this process's stderr).
    `preload`: import the statistics stack (~270 MB) at once, else when the first
    table is asked for (a large build, whose staging peak it would add to).
    `on_loaded`: called once, from another thread, when the server's start-up work
    is over (its imports done, or it failed), so that the caller can start its own
    background work then, not on the core dbt's start needs; at once without a server.
    Yields {} where there is no server (not Linux)."""
    if not AVAILABLE:
        if on_loaded:
            on_loaded()
        yield {}
        return
    key = secrets.token_bytes(32)
    name = f"@qsafety-stats-{os.getpid()}-{secrets.token_hex(8)}"
    address = _address_from_env(name)
    log_file = open(log, "wb") if log else None   # noqa: SIM115 - closed below; this build's output only
    proc = subprocess.Popen(child_command([sys.executable, "-m", "quant_safety.stats_server"]),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file, env=env)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        # the address and key reach the server on its stdin, not its command line
        proc.stdin.write(f"{name}\n{key.hex()}\n{'preload' if preload else 'lazy'}\n".encode())
        proc.stdin.close()
        # it listens (~0.1 s after its start) before it imports the statistics stack; a
        # server that did not start leaves the models to compute in dbt's process
        ready = proc.stdout.readline() == b"listening\n"
        if on_loaded:
            # its next line says the imports are done; the end of the pipe (a server that
            # died, or did not start) counts too
            threading.Thread(target=lambda: (proc.stdout.readline(), on_loaded()), name="stats-server-loaded",
                             daemon=True).start()
        yield {ENV_ADDRESS: name, ENV_KEY: key.hex()} if ready else {}
    finally:
        _stop(proc, address, key)
        if log_file:
            log_file.close()


def _stop(proc: subprocess.Popen, address: str, key: bytes) -> None:
    if proc.poll() is None:
        with contextlib.suppress(OSError, EOFError, ValueError, AuthenticationError):
            with Client(address, family=FAMILY, authkey=key) as conn:
                conn.send(_STOP)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _import_stack():
    """quant_safety.stats.models.compute, and the libraries its functions import when first called."""
    import pingouin  # noqa: F401
    import statsmodels.api  # noqa: F401
    import statsmodels.formula.api  # noqa: F401

    from .stats.models import compute as compute_here

    return compute_here


def _serve(address: str, key: bytes, preload: bool) -> None:
    # listen first: a client that connects while the imports run waits in the backlog
    with Listener(address, family=FAMILY, authkey=key, backlog=8) as listener:
        sys.stdout.write("listening\n")
        sys.stdout.flush()
        stack = [_import_stack()] if preload else []
        stack_lock = threading.Lock()
        sys.stdout.write("loaded\n")
        sys.stdout.flush()
        os.dup2(2, 1)        # nobody reads the pipe from now on: what the fits print goes with stderr

        def compute_here(name: str, inputs: dict):
            with stack_lock:
                if not stack:
                    stack.append(_import_stack())
            return stack[0](name, **inputs)

        while True:
            try:
                conn = listener.accept()
            except (OSError, EOFError, AuthenticationError):   # a client without the key, or one that left
                continue
            try:
                request = conn.recv()
            except (EOFError, OSError):
                conn.close()
                continue
            if request == _STOP:
                conn.close()
                return
            # each table in a thread of its own: dbt asks for two at a time (its two
            # threads), and a cheap table (a few correlations) must not wait behind a
            # slow one (the mixed-model fits), holding a dbt thread idle meanwhile
            threading.Thread(target=_answer, args=(conn, request, compute_here), daemon=True).start()


def _answer(conn, request, compute_here) -> None:
    with conn:
        name, inputs = request
        try:
            reply = ("ok", compute_here(name, inputs))
        except BaseException:  # noqa: BLE001 - the model raises it with this traceback
            reply = ("error", traceback.format_exc())
        with contextlib.suppress(OSError):
            conn.send(reply)


def _main() -> int:
    lines = sys.stdin.read().split("\n")
    _serve(_address_from_env(lines[0]), bytes.fromhex(lines[1]), preload=lines[2] == "preload")
    # stopped: every table was answered (the build asks to stop after dbt has exited) and
    # nothing is left to write. The interpreter's normal exit tears down the statistics
    # stack module by module (~0.9 s of a x10 build, the build waits for it); skip that.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(_main())

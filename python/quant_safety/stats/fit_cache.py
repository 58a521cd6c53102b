"""Statistics fits cached by the hash of their input rows (issue 20).

A fit here is a pure function of a few numeric arrays (the rows of one model,
one scope and one metric pair): a correlation with its exact permutation
p-values, an OLS of a metric on bits per weight, a mixed model of one scope and
metric pair (its x, y and group rows). When a new evaluation run adds a cell of
one model, the other models' rows are unchanged, and so are their fits: they are
read back instead of being fitted again (a pooled fit over every model, such as
the all-cells mixed model, changes with the new cell and is refitted).

- The key of a fit is the sha256 of its kind, its input arrays (dtype, shape and
  every byte), the source code of the statistics package and the versions of
  numpy, scipy, statsmodels, pingouin and pandas: a changed input row, a code
  change or a library upgrade is a miss, never a stale hit.
- The value is what the fit returned, as JSON (floats round-trip exactly; NaN
  and infinities are kept), so a hit returns the same numbers bit for bit.
- One cache file per statistics table, `<QSAFETY_STATS_CACHE_DIR>/<table>.json`,
  read when the table's computation starts and rewritten (atomically, with the
  keys this computation used only) when it ends: the cache never grows past one
  build's fits. `qsafety build` points the variable at its work dir; without it
  (a plain `dbt build`, the tests) nothing is cached.
- A file that cannot be read as this module wrote it is ignored (and replaced).
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

ENV = "QSAFETY_STATS_CACHE_DIR"
FORMAT = 1
_LIBRARIES = ("numpy", "scipy", "statsmodels", "pingouin", "pandas")

_session: contextvars.ContextVar[_Session | None] = contextvars.ContextVar("quant_safety_fit_cache", default=None)
_version: str | None = None


def code_version() -> str:
    """sha256 over the statistics package's source files and the libraries' versions."""
    global _version
    if _version is None:
        from importlib import metadata

        h = hashlib.sha256(f"format {FORMAT}\n".encode())
        for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        for lib in _LIBRARIES:
            try:
                h.update(f"{lib}={metadata.version(lib)}\n".encode())
            except metadata.PackageNotFoundError:
                h.update(f"{lib}=absent\n".encode())
        _version = h.hexdigest()
    return _version


class _Session:
    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, object] = {}
        self.used: dict[str, object] = {}
        self.hits = self.misses = 0
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") == code_version() and isinstance(data.get("fits"), dict):
                self.entries = data["fits"]
        except (OSError, ValueError, AttributeError):
            pass

    def save(self) -> None:
        if not self.used:                      # a table without cached fits keeps no file
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"version": code_version(), "fits": self.used}, handle, default=_plain)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@contextlib.contextmanager
def session(table: str) -> Iterator[_Session | None]:
    """Cache the fits of one statistics table's computation (none without QSAFETY_STATS_CACHE_DIR)."""
    root = os.environ.get(ENV)
    if not root or _session.get() is not None:
        yield _session.get()
        return
    current = _Session(Path(root) / f"{table}.json")
    token = _session.set(current)
    try:
        yield current
        current.save()
    finally:
        _session.reset(token)


def _key(kind: str, arrays: tuple) -> str:
    h = hashlib.sha256(kind.encode() + b"\0" + code_version().encode())
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode() + b"\0" + a.tobytes())
    return f"{kind}:{h.hexdigest()}"


def _plain(value):
    """JSON for numpy scalars (json itself takes float, int, bool, str, None, lists, dicts)."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"fit_cache: {type(value).__name__} is not cacheable")


def memo(kind: str, fit: Callable, *arrays):
    """``fit(*arrays)``, read from the cache when the same arrays were fitted in the
    last build (same code and libraries). ``kind`` names the fit and its fixed
    arguments (``fit`` must depend on nothing else)."""
    return memo_map(kind, lambda _indices: [fit(*arrays)], [arrays])[0]


def memo_map(kind: str, compute: Callable[[list[int]], list], arrays_of: list[tuple]) -> list:
    """Many fits of one kind: ``arrays_of[i]`` are the input arrays of fit i, and
    ``compute(indices)`` fits the given ones (in worker processes, say) and returns
    their values in that order. Fits whose arrays were fitted in the last build are
    read from the cache; ``compute`` gets only the others (and is not called when
    there are none). Without a session every fit is computed."""
    current = _session.get()
    if current is None:
        return list(compute(list(range(len(arrays_of)))))
    keys = [_key(kind, arrays) for arrays in arrays_of]
    out: list = [None] * len(keys)
    missing = []
    for i, key in enumerate(keys):
        entry = current.entries.get(key)
        if entry is None:
            missing.append(i)
            continue
        current.hits += 1
        current.used[key] = entry
        out[i] = tuple(entry["value"]) if entry.get("tuple") else entry["value"]
    if missing:
        for i, value in zip(missing, compute(missing), strict=True):
            current.misses += 1
            current.used[keys[i]] = {"value": list(value) if isinstance(value, tuple) else value,
                                     "tuple": isinstance(value, tuple)}
            out[i] = value
    return out

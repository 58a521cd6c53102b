"""The build's statistics server (quant_safety/stats_server.py): a table computed
in the server is the table computed in this process, bit for bit; a failure in
the server reaches the caller with its traceback; with no server (a plain `dbt
build`) or none answering, the table is computed here."""
from __future__ import annotations

import os
import threading
import time

import pandas as pd
import pytest
from test_fit_cache import _matrix

from quant_safety import stats_server
from quant_safety.stats.models import STATS_MODELS
from quant_safety.stats.models import compute as compute_here

pytestmark = pytest.mark.skipif(not stats_server.AVAILABLE, reason="the server needs Linux abstract sockets")


def _server_env() -> dict:
    """This environment without a server address, and uncached (the reference tables below are too)."""
    drop = (stats_server.ENV_ADDRESS, stats_server.ENV_KEY, "QSAFETY_STATS_CACHE_DIR")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _point_at(entries: dict, monkeypatch) -> None:
    for name, value in entries.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("QSAFETY_STATS_CACHE_DIR", raising=False)


@pytest.fixture(scope="module")
def server():
    with stats_server.serving(_server_env()) as entries:
        yield entries


@pytest.fixture()
def pointed_at(server, monkeypatch):
    _point_at(server, monkeypatch)
    return server


def _served(name: str, **inputs) -> pd.DataFrame:
    return stats_server.compute(name, **inputs)


@pytest.mark.parametrize("name", [n for n in STATS_MODELS if n != "sign_reversal_summary"])
def test_a_table_from_the_server_is_the_table_computed_here(pointed_at, name, capsys):
    matrix = _matrix()
    pd.testing.assert_frame_equal(_served(name, matrix=matrix), compute_here(name, matrix=matrix),
                                  check_exact=True)
    assert capsys.readouterr().err == ""        # the server answered: no fallback here


def test_a_table_that_reads_another_table_from_the_server(pointed_at):
    correlations = compute_here("correlations", matrix=_matrix())
    pd.testing.assert_frame_equal(_served("sign_reversal_summary", correlations=correlations),
                                  compute_here("sign_reversal_summary", correlations=correlations),
                                  check_exact=True)


def test_a_failure_in_the_server_raises_with_its_traceback(pointed_at):
    with pytest.raises(RuntimeError, match=r"(?s)correlations failed in the statistics server.*missing input"):
        _served("correlations", cells=_matrix())
    # the server goes on serving after a failure
    pd.testing.assert_frame_equal(_served("bpw_regressions", matrix=_matrix(6)),
                                  compute_here("bpw_regressions", matrix=_matrix(6)), check_exact=True)


def test_a_wrong_key_is_refused_and_the_table_computed_here(pointed_at, monkeypatch, capsys):
    monkeypatch.setenv(stats_server.ENV_KEY, "00" * 32)
    matrix = _matrix()
    pd.testing.assert_frame_equal(_served("bpw_regressions", matrix=matrix),
                                  compute_here("bpw_regressions", matrix=matrix), check_exact=True)
    assert "not reachable" in capsys.readouterr().err


def test_without_a_server_the_table_is_computed_here(monkeypatch, capsys):
    monkeypatch.delenv(stats_server.ENV_ADDRESS, raising=False)
    monkeypatch.delenv("QSAFETY_STATS_CACHE_DIR", raising=False)
    matrix = _matrix()
    pd.testing.assert_frame_equal(_served("bpw_regressions", matrix=matrix),
                                  compute_here("bpw_regressions", matrix=matrix), check_exact=True)
    assert capsys.readouterr().err == ""


def test_a_server_that_imports_at_the_first_table_gives_the_same_table(monkeypatch, capsys):
    matrix = _matrix()
    with stats_server.serving(_server_env(), preload=False) as entries:
        _point_at(entries, monkeypatch)
        served = _served("mixed_models", matrix=matrix)
    pd.testing.assert_frame_equal(served, compute_here("mixed_models", matrix=matrix), check_exact=True)
    assert capsys.readouterr().err == ""


def _server_pids() -> list[int]:
    """This process's statistics-server children."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            cmdline = open(f"/proc/{entry}/cmdline").read()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and "quant_safety.stats_server" in cmdline:
            pids.append(int(entry))
    return pids


def _has_loaded(pid: int, library: str) -> bool:
    return f"/{library}/" in open(f"/proc/{pid}/maps").read()


def test_on_loaded_is_called_once_the_server_has_imported_the_stack():
    seen = []
    done = threading.Event()
    others = set(_server_pids())           # the module's server, when it runs

    def on_loaded():
        # what the server has mapped when it says it is done: scipy's compiled modules
        seen.extend(_has_loaded(pid, "scipy") for pid in set(_server_pids()) - others)
        done.set()

    with stats_server.serving(_server_env(), on_loaded=on_loaded):
        assert done.wait(120)
    assert seen == [True]


def test_on_loaded_is_called_when_the_server_does_not_start(tmp_path):
    # a quant_safety package ahead of the real one on the path, that fails to import
    (tmp_path / "quant_safety").mkdir()
    (tmp_path / "quant_safety" / "__init__.py").write_text("raise ImportError('no server here')\n")
    done = threading.Event()
    env = dict(_server_env(), PYTHONPATH=str(tmp_path))
    with stats_server.serving(env, log=tmp_path / "server.log", on_loaded=done.set) as entries:
        assert done.wait(60)
    assert entries == {}                     # nothing to point dbt at: the models compute in its process
    assert "no server here" in (tmp_path / "server.log").read_text()


def test_a_cheap_table_does_not_wait_behind_a_slow_one(monkeypatch):
    # dbt asks for two tables at a time; the server answers each in a thread of its own
    from test_stats_fast_paths import _many_group_matrix

    big = _many_group_matrix(models=100)          # 12 mixed fits of ~400 rows: seconds, in the server
    cheap = _matrix()
    env = dict(_server_env(), QSAFETY_STATS_WORKERS="1")
    done: dict[str, float] = {}
    with stats_server.serving(env) as entries:
        _point_at(entries, monkeypatch)
        slow = threading.Thread(target=lambda: (_served("mixed_models", matrix=big),
                                                done.setdefault("slow", time.monotonic())))
        slow.start()
        time.sleep(0.5)                           # the slow request is in the server
        served = _served("bpw_regressions", matrix=cheap)
        done["cheap"] = time.monotonic()
        slow.join(300)
    assert set(done) == {"slow", "cheap"}
    assert done["cheap"] < done["slow"]
    pd.testing.assert_frame_equal(served, compute_here("bpw_regressions", matrix=cheap), check_exact=True)

"""Child processes that die with the build.

dbt, the Spark statistics step and the statistics workers run as children of
`qsafety build`, in its process group (a signal to the group reaches them all).
When the build process itself is killed (`kill -9 <pid>`), nothing tells a
child: it would run on as an orphan and write into the build's files. On Linux
each child is therefore started through this module: it sets the parent-death
signal (prctl PR_SET_PDEATHSIG = SIGKILL; kept across execve), checks that the
parent is still the one that started it (it could have died in between), and
then execs the real command, so the command keeps its own pid. Elsewhere the
command runs unchanged.
"""
from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def child_command(cmd: list[str]) -> list[str]:
    """`cmd`, started so that it is killed when this process dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return list(cmd)
    return [sys.executable, "-m", "quant_safety.processes", str(os.getpid()), "--", *map(str, cmd)]


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """prctl(PR_SET_PDEATHSIG, sig) for this process; False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _main(argv: list[str]) -> int:
    parent, sep, cmd = argv[0], argv[1], argv[2:]
    if sep != "--" or not cmd:
        print("usage: python -m quant_safety.processes <parent pid> -- <command ...>", file=sys.stderr)
        return 2
    set_parent_death_signal()
    if os.getppid() != int(parent):      # the parent died before the signal was set
        return 137
    os.execvp(cmd[0], cmd)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

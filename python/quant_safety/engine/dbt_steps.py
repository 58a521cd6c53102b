"""Several dbt commands in one dbt process, on one parse of the project.

`python -m quant_safety.engine.dbt_steps '<json>'`, where the JSON is
`{"common": [args every command gets], "steps": [[command args], ...]}`.

A build that also writes the dbt docs site (`qsafety build --export`, `make
run`) ran `dbt build` and then `dbt docs generate` as two dbt processes: the
second paid dbt's start again (~2 s of imports) and read the partial parse back
(~1.5 s). Here the project is parsed once (`dbt parse`, which also saves the
partial parse for the next build, as `dbt build` does) and every command runs
through dbt's programmatic entry point (dbtRunner) on that manifest. Each
command's output is dbt's own, on stdout; before each command this prints
`STEP_MARKER <command>`, so that the caller can time the steps. The first
command that does not succeed ends the process with dbt's exit code (1: a
failure such as a failing test, 2: an error).
"""
from __future__ import annotations

import json
import sys

STEP_MARKER = "qsafety-dbt-step: "


def _exit_code(result) -> int:
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


def command_name(args: list[str]) -> str:
    """`docs generate` of `docs generate --static`: the words before the first option."""
    words = []
    for arg in args:
        if arg.startswith("-"):
            break
        words.append(arg)
    return " ".join(words)


def run_steps(common: list[str], steps: list[list[str]]) -> int:
    from dbt.cli.main import dbtRunner

    parsed = dbtRunner().invoke(["parse", *common])
    if not parsed.success:
        return _exit_code(parsed)
    for step in steps:
        print(f"{STEP_MARKER}{command_name(step)}", flush=True)
        # a runner per command: dbtRunner keeps only the manifest it is given
        result = dbtRunner(manifest=parsed.result).invoke([*step, *common])
        if not result.success:
            return _exit_code(result)
    return 0


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    return run_steps(list(spec["common"]), [list(step) for step in spec["steps"]])


if __name__ == "__main__":
    sys.exit(main(sys.argv))

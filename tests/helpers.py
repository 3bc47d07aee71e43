"""What several test modules share: running the `attnclf` command in-process, checking that a
user mistake ended as one `error:` line with exit status 2, and running Python in a fresh
process (where the C allocator's setting is made) for the JSON it prints last."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from typer.testing import CliRunner, Result

from attnclf.cli import app

runner = CliRunner()


def run_cli(*args: object, input: str | None = None) -> Result:
    """`attnclf ARGS...` in this process (so families registered by a test are known)."""
    return runner.invoke(app, [str(a) for a in args], input=input)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    """Exit status 2, one `error: ...` line on stderr holding every fragment, no traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def python_json(*args: str, keep_malloc: bool = False) -> Any:
    """The JSON on the last stdout line of `python ARGS...` in a new process, with attnclf's
    allocator setting applied (or, with `keep_malloc`, glibc's own left alone)."""
    env = {k: v for k, v in os.environ.items() if k != "ATTNCLF_KEEP_MALLOC"}
    if keep_malloc:
        env["ATTNCLF_KEEP_MALLOC"] = "1"
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])

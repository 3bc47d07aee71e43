"""What several test modules share: running the `attnclf` command in-process, and checking
that a user mistake ended as one `error:` line with exit status 2."""

from __future__ import annotations

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

"""The documentation site: it builds with --strict; its generated Reference names every command,
sub-command, option and route there is; every Python example in docs/ runs as written, page by
page, on reviews the test makes; and every `attnclf` line of a bash block, in docs/ and
README.md, names a real command and only options that command has."""

from __future__ import annotations

import csv
import functools
import html
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, make_reviews

DOCS = REPO / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
# A fenced block, indented or not (inside an admonition); its language and its body
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<language>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
NOT_TESTED = re.compile(r"<!--\s*not-tested\b")


def page_id(path: Path) -> str:
    return str(path.relative_to(REPO))


# --- the build ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for this module exactly as the test command builds it."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # mkdocs' banner about its next version
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return out


def page_text(site: Path, page: str) -> str:
    """A built page's article as plain text (tags dropped, entities decoded)."""
    raw = (site / page / "index.html").read_text(encoding="utf-8")
    article = raw[raw.index("<article") : raw.index("</article>")]
    return html.unescape(re.sub(r"<[^>]+>", " ", article))


def sections(site: Path, page: str) -> dict[str, str]:
    """A built page's text by heading (h1-h3), each up to the next heading."""
    raw = (site / page / "index.html").read_text(encoding="utf-8")
    article = raw[raw.index("<article") : raw.index("</article>")]
    found: dict[str, str] = {}
    parts = re.split(r"<h[123][^>]*>(.*?)</h[123]>", article, flags=re.DOTALL)
    for title, body in zip(parts[1::2], parts[2::2], strict=True):
        name = html.unescape(re.sub(r"<[^>]+>", "", title)).replace("¶", "").strip()
        found[name] = html.unescape(re.sub(r"<[^>]+>", " ", body))
    return found


def test_every_page_is_built(site: Path):
    for page in PAGES:
        relative = page.relative_to(DOCS).with_suffix("")
        built = site / relative / "index.html" if relative.name != "index" else None
        if built is None:
            built = site / relative.parent / "index.html"
        assert built.is_file(), f"{page_id(page)} was not built"


# --- the command line ---------------------------------------------------------------------------


@functools.cache
def cli_commands() -> dict[tuple[str, ...], Any]:
    """Every command and sub-app of the Typer app by its path (() the app itself), hidden ones
    left out."""
    import typer

    from attnclf.cli import app

    found: dict[tuple[str, ...], Any] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        found[path] = command
        for name, sub in getattr(command, "commands", {}).items():
            if not sub.hidden:
                walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


def option_names(command: Any, long_only: bool = False) -> set[str]:
    names = {
        name
        for param in command.params
        if param.param_type_name == "option" and not param.hidden
        for name in (*param.opts, *param.secondary_opts)
    }
    return {n for n in names if n.startswith("--")} if long_only else names


def named(word: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def test_the_cli_reference_names_every_command_and_option(site: Path):
    found = sections(site, "reference/cli")
    whole = page_text(site, "reference/cli")
    for path, command in cli_commands().items():
        title = " ".join(("attnclf", *path))
        if path:
            assert title in found, f"no section for `{title}`"
            text = found[title]
        else:
            text = whole
        for sub in getattr(command, "commands", {}):
            if (*path, sub) in cli_commands():
                assert named(sub, text), f"`{title}` does not list `{sub}`"
        for option in option_names(command, long_only=True) - {"--help"}:
            assert named(option, text), f"`{title}`: {option} is not in its section"
    assert named("--help", whole)


# --- the HTTP API -------------------------------------------------------------------------------


def test_the_http_reference_names_every_route_of_the_openapi_document(site: Path):
    from attnclf.serve import create_app

    document = create_app({}).openapi()
    text = " ".join(page_text(site, "reference/http").split())
    for path, operations in document["paths"].items():
        for method in operations:
            assert f"{method.upper()} {path}" in text, f"{method.upper()} {path}"
    for schema in document["components"]["schemas"]:
        assert named(schema, text), schema


# --- the Python examples ------------------------------------------------------------------------


def fenced_blocks(text: str, language: str, tested_only: bool = True) -> list[str]:
    """The bodies of the page's fenced blocks in `language`, in order, dedented; with
    `tested_only`, not those whose fence follows a `<!-- not-tested: ... -->` line."""
    blocks = []
    for match in FENCE.finditer(text):
        if match.group("language") != language:
            continue
        before = text[: match.start()].rstrip("\n").rpartition("\n")[2]
        if tested_only and NOT_TESTED.search(before):
            continue
        indent = match.group("indent")
        lines = match.group("body").splitlines()
        blocks.append("\n".join(line.removeprefix(indent) for line in lines) + "\n")
    return blocks


def page_workdir(folder: Path) -> Path:
    """The folder a page's examples run in: reviews.csv, 300 short reviews (text, label)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "reviews.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(make_reviews(300))
    return folder


def run_page(text: str, name: str, workdir: Path) -> list[str]:
    """Run the page's Python blocks in order, each in a fresh process, all in `workdir`; what
    each printed. The first block that fails fails the page, naming it and the block."""
    printed = []
    for number, code in enumerate(fenced_blocks(text, "python"), start=1):
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, (
            f"{name}, python block {number} failed:\n{code}\n--- stderr ---\n{done.stderr[-4000:]}"
        )
        printed.append(done.stdout)
    return printed


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_the_python_examples_of_a_page_run_as_written(page: Path, tmp_path: Path):
    text = page.read_text(encoding="utf-8")
    if not fenced_blocks(text, "python"):
        return
    run_page(text, page_id(page), page_workdir(tmp_path / "work"))


def test_the_example_runner_runs_a_page_in_order_and_skips_what_is_marked(tmp_path: Path):
    page = (
        "# A page\n\n"
        "```python\n"
        "header = open('reviews.csv', encoding='utf-8').readline()\n"
        "open('made.txt', 'w').write(header)\n"
        "```\n\n"
        "<!-- not-tested: needs a server -->\n"
        "```python\n"
        "raise SystemExit('a block marked not-tested ran')\n"
        "```\n\n"
        "```bash\n"
        "attnclf --help\n"
        "```\n\n"
        '!!! note "In an admonition"\n'
        "    ```python\n"
        "    rows = open('reviews.csv', encoding='utf-8').read().splitlines()\n"
        "    print(open('made.txt').read().strip(), len(rows))\n"
        "    ```\n"
    )
    printed = run_page(page, "a page", page_workdir(tmp_path / "work"))
    assert printed == ["", "text,label 301\n"]
    assert fenced_blocks(page, "python", tested_only=False)[1].startswith("raise SystemExit")

    failing = "```python\nprint('one')\n```\n\n```python\nimport no_such_module\n```\n"
    with pytest.raises(AssertionError, match=r"a failing page, python block 2 failed"):
        run_page(failing, "a failing page", page_workdir(tmp_path / "other"))


# --- the shell lines ----------------------------------------------------------------------------

WRAPPERS = {"time", "/usr/bin/time", "-v", "nohup", "$"}
OPERATORS = {"&&", "||", "|", ";", "&"}


def shell_commands(block: str) -> Iterator[list[str]]:
    """Each simple command of a bash block as words: continuation lines joined, comments
    dropped, split at `&&`, `|` and `;`."""
    joined = re.sub(r"\\\n", " ", block)
    for line in joined.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            parsed = list(lexer)
        except ValueError:  # an unbalanced quote (a heredoc's text): its words as they stand
            parsed = line.split("#", 1)[0].split()
        words: list[str] = []
        for word in parsed:
            if word in OPERATORS:
                if words:
                    yield words
                words = []
            else:
                words.append(word)
        if words:
            yield words


def attnclf_words(words: list[str]) -> list[str] | None:
    """The words from `attnclf` on, when the command runs attnclf (after any `VAR=value` and
    `time`); else None."""
    for index, word in enumerate(words):
        if word == "attnclf":
            return words[index:]
        if word not in WRAPPERS and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", word):
            return None
    return None


def check_attnclf(words: list[str]) -> str | None:
    """What is wrong with an `attnclf ...` command line: an unknown command or option."""
    commands = cli_commands()
    path: tuple[str, ...] = ()
    rest = words[1:]
    while rest and hasattr(commands[path], "commands") and not rest[0].startswith("-"):
        if (*path, rest[0]) not in commands:
            return f"`{' '.join(('attnclf', *path))}` has no command {rest[0]!r}"
        path, rest = (*path, rest[0]), rest[1:]
    known = option_names(commands[path]) | {"--help"}
    for word in rest:
        if word == "--":
            break
        option = word.strip("[]").split("=", 1)[0]
        if not option.startswith("-") or option == "-" or re.fullmatch(r"-\d[\d.e-]*", option):
            continue
        if option not in known:
            return f"`{' '.join(('attnclf', *path))}` has no option {option}"
    return None


SHELL_PAGES = [*PAGES, REPO / "README.md"]


@pytest.mark.parametrize("page", SHELL_PAGES, ids=page_id)
def test_the_shell_lines_of_a_page_name_real_commands_and_options(page: Path):
    problems = []
    for block in fenced_blocks(page.read_text(encoding="utf-8"), "bash"):
        for words in shell_commands(block):
            command = attnclf_words(words)
            if command is not None and (problem := check_attnclf(command)):
                problems.append(f"{problem}: {shlex.join(words)}")
    assert not problems, f"{page_id(page)}:\n" + "\n".join(problems)


def test_the_shell_check_sees_a_wrong_command_or_option():
    block = (
        "attnclf train --model nbsvm --data reviews.csv \\\n    --out models/nb  # a comment\n"
        "ATTNCLF_THREADS=1 attnclf seq2seq train --task dates --epochs 1 && attnclf --help\n"
        "attnclf predict models/nb 'A film.' --json [--attention] | head -1\n"
        "attnclf trian --data x\n"
        "attnclf seq2seq translate models/dates --bogus 3\n"
        "python -m pip install attnclf\n"
    )
    found = [check_attnclf(c) for w in shell_commands(block) if (c := attnclf_words(w))]
    assert found[:4] == [None, None, None, None]
    assert "has no command 'trian'" in str(found[4])
    assert "`attnclf seq2seq translate` has no option --bogus" in str(found[5])
    assert len(found) == 6  # pip's line is not attnclf's


# --- pages that must keep up with the code -------------------------------------------------------


def test_the_families_page_names_every_registered_family():
    from attnclf.models import all_families

    text = (DOCS / "concepts" / "families.md").read_text(encoding="utf-8")
    for name in all_families():
        assert f"`{name}`" in text, f"concepts/families.md does not describe {name}"


def test_the_layout_page_gives_the_layers_in_the_order_the_package_test_holds():
    from test_package import LAYERS

    text = (DOCS / "concepts" / "layout.md").read_text(encoding="utf-8")
    listed = re.search(r"^\*\*(runtime, [a-z0-9, ]+)\*\*$", text, flags=re.MULTILINE)
    assert listed is not None, "concepts/layout.md lost its line of layers"
    assert listed.group(1).split(", ") == LAYERS

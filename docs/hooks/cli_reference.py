"""The command-line reference, made from the Typer app as the site builds: every command and
sub-app in the order `attnclf --help` lists them, each with its help, its usage, its arguments
and its options (the text `--help` prints, defaults and ranges included).

A page asks for it with the line `<!-- generated: cli -->`. mkdocs-click cannot read this app:
Typer keeps its own copy of Click, whose options are not `click.Option`s."""

from __future__ import annotations

import contextlib
import functools
import html
import io
import re
from typing import Any

MARKER = "<!-- generated: cli -->"
PROG = "attnclf"
NOWRAP = ' style="white-space: nowrap"'  # names stay whole; the help beside them wraps


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, reference())


@functools.cache
def reference() -> str:
    import typer

    from attnclf.cli import app

    root = typer.main.get_command(app)
    context = root.context_class(root, info_name=PROG)
    parts = [command_table(root, context), ""]
    for name, command in visible(root):
        parts += command_section(command, context, [name], level=2)
    return "\n".join(parts)


def visible(group: Any) -> list[tuple[str, Any]]:
    return [(name, cmd) for name, cmd in group.commands.items() if not cmd.hidden]


def anchor(path: list[str]) -> str:
    return "-".join(path)


def command_table(group: Any, context: Any, path: list[str] | None = None) -> str:
    """A table of the group's commands, each linked to its section, with its first line."""
    path = path or []
    rows = [
        f'<tr><td{NOWRAP}><a href="#{anchor([*path, name])}">'
        f"<code>{html.escape(name)}</code></a></td>"
        f"<td>{inline(first_sentence(cmd.help or ''))}</td></tr>"
        for name, cmd in visible(group)
    ]
    return table(["command", "what it does"], rows)


def command_section(command: Any, parent: Any, path: list[str], level: int) -> list[str]:
    context = command.context_class(command, info_name=path[-1], parent=parent)
    full = " ".join([PROG, *path])
    lines = [f"{'#' * level} {full} {{ #{anchor(path)} }}", ""]
    lines += [paragraphs(command.help or ""), ""]
    if hasattr(command, "commands"):  # a sub-app: its own commands, one level down
        lines += ["```text", f"{full} COMMAND [OPTIONS] [ARGS]...", "```", ""]
        lines += [command_table(command, context, path), ""]
        for name, sub in visible(command):
            lines += command_section(sub, context, [*path, name], level + 1)
        return lines
    help_texts = shown_help(command, context)
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = [
        p
        for p in command.params
        if p.param_type_name == "option" and not p.hidden and p.name != "help"
    ]
    lines += ["```text", usage(full, arguments), "```", ""]
    if arguments:
        lines += [argument_table(arguments), ""]
    if options:
        lines += [option_table(options, context, help_texts), ""]
    return lines


def shown_help(command: Any, context: Any) -> dict[int, str]:
    """Each option's help as `--help` shows it. A command may complete its options' help as it
    formats it (the family choices list the registered families), so the help is formatted once,
    into nothing, before it is read."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        command.get_help(context)
    return {
        id(p): p.get_help_record(context) for p in command.params if p.param_type_name == "option"
    }


def usage(full: str, arguments: list[Any]) -> str:
    pieces = [full, "[OPTIONS]"]
    for argument in arguments:
        name = argument.name.upper()
        many = argument.nargs == -1
        text = f"{name}..." if many else name
        pieces.append(text if argument.required else f"[{name}]" + ("..." if many else ""))
    return " ".join(pieces)


def argument_table(arguments: list[Any]) -> str:
    rows = []
    for argument in arguments:
        name = argument.name.upper() + ("..." if argument.nargs == -1 else "")
        need = "required" if argument.required else "optional"
        rows.append(
            f"<tr><td{NOWRAP}><code>{name}</code></td><td>{inline(argument.help or '')}"
            f"{extra(need)}</td></tr>"
        )
    return table(["argument", "meaning"], rows)


def option_table(options: list[Any], context: Any, help_texts: dict[int, Any]) -> str:
    rows = []
    for option in options:
        record = help_texts.get(id(option)) or option.get_help_record(context)
        names, text = record if record else ("/".join(option.opts), "")
        body, extras = split_extras(text)
        listed = ""
        if " Families: " in body:  # the registered families, one a line
            body, families = body.split(" Families: ", 1)
            items = re.split(r"; (?=[\w-]+: )", families.rstrip("."))
            listed = "<ul>" + "".join(f"<li>{family_item(item)}</li>" for item in items) + "</ul>"
        rows.append(
            f"<tr><td{NOWRAP}>{option_names(names)}</td><td>"
            f"{inline(body)}{listed}{extra(extras)}</td></tr>"
        )
    return table(["option", "meaning"], rows)


def option_names(shown: str) -> str:
    """`-q, --quiet`, `--attention / --no-attention`, `--file <path>` as `--help` shows them:
    each name as code, then the kind of value it takes."""
    found = re.match(r"(-[^\s,/]+(?:(?:, | / )-[^\s,/]+)*)\s*(.*)$", shown)
    names, metavar = (found.group(1), found.group(2)) if found else (shown, "")
    text = re.sub(r"(-[^\s,/]+)", lambda m: f"<code>{html.escape(m.group(1))}</code>", names)
    return text + (f"<br><code>{html.escape(metavar)}</code>" if metavar else "")


def family_item(item: str) -> str:
    name, _, summary = item.partition(": ")
    return f"<code>{html.escape(name)}</code>: {inline(summary)}"


def split_extras(text: str) -> tuple[str, str]:
    """Click's help ends in `  [default: x; x>=1]`: the help, and what the brackets hold."""
    found = re.search(r"\s\s\[([^\[\]]*)\]$", text)
    if found is None:
        return text, ""
    return text[: found.start()], found.group(1)


def extra(text: str) -> str:
    return f"<br><small>{inline(text)}</small>" if text else ""


def table(headers: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    return (
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>"
    )


def inline(text: str) -> str:
    """Help text as HTML: escaped, with its `code` spans as code."""
    text = " ".join(text.split())
    pieces = text.split("`")
    if len(pieces) % 2 == 0:  # an unpaired backtick: keep it as it is
        return html.escape(text)
    return "".join(
        f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(pieces)
    )


def paragraphs(text: str) -> str:
    """A docstring's paragraphs as HTML paragraphs (Click's `\\b` marks dropped)."""
    blocks = [b for b in re.split(r"\n\s*\n", text.replace("\b", "")) if b.strip()]
    return "\n".join(f"<p>{inline(block)}</p>" for block in blocks)


def first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    found = re.search(r"(?<=\.)\s", flat)
    return flat[: found.start()] if found else flat

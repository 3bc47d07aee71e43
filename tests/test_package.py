"""The package's shape: imports that point one way, no torch on `import attnclf`, inference that
never imports training code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import attnclf

PACKAGE = Path(attnclf.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that `path` imports anywhere (functions included), except under
    `if TYPE_CHECKING:`; `from X import name` counts X.name when that is a module."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if is_type_checking_block(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {module for module in found if module in modules and module != name}


def import_graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in files}
    return {module_name(path): imported_modules(path, modules) for path in files}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph[node])
    return seen


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 30  # the walk found the package
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_inference_never_imports_training_code():
    graph = import_graph()
    training = {
        "attnclf.training.loop",
        "attnclf.training.compare",
        "attnclf.training.checkpoint",
        "attnclf.seq2seq.train",
    }
    inference_modules = (
        "attnclf.inference.classifier",
        "attnclf.inference.scoring",
        "attnclf.seq2seq.translator",
    )
    for inference in inference_modules:
        assert not reachable(graph, inference) & training, inference


def test_import_attnclf_imports_no_torch():
    code = (
        "import sys, attnclf, attnclf.seq2seq, attnclf.models, attnclf.cli\n"
        "heavy = {'torch', 'sklearn', 'tqdm', 'scipy'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
        "assert callable(attnclf.load)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_public_names_load_on_first_use():
    from attnclf.inference.classifier import Prediction, TextClassifier

    assert attnclf.TextClassifier is TextClassifier and attnclf.Prediction is Prediction

"""The package's shape: subpackages by job whose imports point one way (TYPE_CHECKING imports
included), no torch on `import attnclf`, inference that never imports training code, and modules
small enough to read."""

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


def imported_modules(path: Path, modules: set[str], type_checking: bool = True) -> set[str]:
    """The package's modules that `path` imports anywhere (functions included), and under
    `if TYPE_CHECKING:` unless `type_checking` is False; `from X import name` counts X.name when
    that is a module."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if not type_checking and is_type_checking_block(node):
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


def import_graph(type_checking: bool = True) -> dict[str, set[str]]:
    """Module -> the package's modules it imports; with `type_checking=False`, only the imports
    that run."""
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in files}
    return {module_name(path): imported_modules(path, modules, type_checking) for path in files}


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
    graph = import_graph(type_checking=False)
    training = {
        "attnclf.training.loop",
        "attnclf.training.run",
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
    from attnclf.training.estimator import AttentionClassifier

    assert attnclf.AttentionClassifier is AttentionClassifier


# The subpackages from the bottom up: each may import its own modules, the ones below it and the
# foundation (version, errors, config), never one above it. `attnclf` itself is the public door.
LAYERS = [
    "runtime",
    "text",
    "models",
    "data",
    "evaluation",
    "inference",
    "explain",
    "training",
    "seq2seq",
    "interop",
    "serve",
    "cli",
]
FOUNDATION = {"attnclf.version", "attnclf.errors", "attnclf.config"}


def layer_of(module: str) -> int | None:
    """The module's place in LAYERS; None for the foundation and the door."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_sits_in_a_subpackage_by_job_or_in_the_foundation():
    loose = {
        module
        for module in import_graph()
        if layer_of(module) is None and module not in FOUNDATION | {"attnclf", "attnclf.__main__"}
    }
    assert not loose, f"modules in no layer: {sorted(loose)} (add them to a subpackage)"


def test_imports_point_down_the_layers():
    upward = []
    for module, imports in import_graph().items():
        if module in FOUNDATION:
            upward += [(module, target) for target in imports if target not in FOUNDATION]
            continue
        here = layer_of(module)
        if here is None:
            continue  # the door (attnclf.load) and `python -m attnclf` may reach anything
        for target in imports:
            there = layer_of(target)
            if there is not None and there > here:
                upward.append((module, target))
    assert not upward, "\n".join(f"{a} imports {b}, which sits above it" for a, b in upward)


def test_the_layer_check_sees_an_upward_import():
    assert layer_of("attnclf.inference.classifier") < layer_of("attnclf.explain.explanation")
    assert layer_of("attnclf.errors") is None


def test_each_subpackage_says_what_it_owns():
    for init in PACKAGE.rglob("__init__.py"):
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring and len(docstring) > 40, f"{init} has no docstring saying what it owns"


def test_modules_are_small_enough_to_read():
    long = {
        str(path.relative_to(PACKAGE)): count
        for path in PACKAGE.rglob("*.py")
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > 450
    }
    assert not long, f"modules over 450 lines: {long}"
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= 6, f"too many modules beside the subpackages: {top}"


def code_strings(path: Path) -> list[tuple[int, str]]:
    """String literals longer than 20 lines that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and node.value.count("\n") >= 20
    ]


def test_no_javascript_or_css_lives_in_a_python_string():
    found = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in PACKAGE.rglob("*.py")
        for line, _ in code_strings(path)
    ]
    assert not found, f"long strings (JavaScript or CSS?) in Python: {found}; make them assets"


def test_the_page_assets_ship_with_the_package():
    from importlib.resources import files

    assets = [
        entry
        for folder in ("explain", "serve")
        if (files("attnclf") / folder / "assets").is_dir()
        for entry in (files("attnclf") / folder / "assets").iterdir()
    ]
    assert any(entry.name.endswith(".js") for entry in assets)
    assert any(entry.name.endswith(".css") for entry in assets)

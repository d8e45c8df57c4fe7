"""The package's structure, read from its own imports (every ``import``, in functions too):
no import circles, between modules or between top-level packages; the library does not reach
into the tooling; and TensorFlow, Keras and KerasHub are imported in one module only."""

import ast
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "recft_utils"
# Commands and tools around the library: they may import anything, nothing in the library imports them.
TOOLING = (
    "recft_utils.benchmark",
    "recft_utils.workshop",
    "recft_utils.cli",
    "recft_utils.runner",
    "recft_utils.doctor",
    "recft_utils.__main__",
)
BACKEND = "recft_utils.keras_backend"
BACKEND_LIBRARIES = ("tensorflow", "keras", "keras_hub")


def module_files() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = module_files()


def imported_names(module: str, path: Path):
    """Every module name ``module`` imports, absolute, with the names imported from it."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            yield base, tuple(alias.name for alias in node.names)


def recft_module(name: str) -> str | None:
    """The recft module file that ``name`` resolves to (its closest enclosing one), or None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        targets = set()
        for base, names in imported_names(module, path):
            if not base.startswith("recft_utils"):
                continue
            # `from package import submodule` imports the submodule; `from module import name` the module
            found = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
            targets.update(found if found and len(found) == len(names) else [recft_module(base)])
        graph[module] = targets - {module, None}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def top_level(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "recft_utils.models.two_tower" in graph["recft_utils.models.fine_tuned_recommender"]  # at the top
    assert "recft_utils.evaluation" in graph["recft_utils.run"]  # only inside Run.task
    assert len(graph) == len(MODULES) > 90


def test_no_import_circles_between_modules():
    assert circles(import_graph()) == []


def test_no_import_circles_between_top_level_packages():
    packages: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        packages.setdefault(top_level(module), set()).update(
            top_level(t) for t in targets if top_level(t) != top_level(module)
        )
    assert circles(packages) == []


def test_the_library_does_not_import_the_tooling():
    reaching = [
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        if not module.startswith(TOOLING)
        for target in targets
        if target.startswith(TOOLING)
    ]
    assert reaching == []


def test_only_the_backend_module_imports_tensorflow_keras_and_keras_hub():
    direct = [
        f"{module}: {base}"
        for module, path in MODULES.items()
        if module != BACKEND
        for base, _ in imported_names(module, path)
        if base.split(".")[0] in BACKEND_LIBRARIES
    ]
    assert direct == []


def test_circles_are_found():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_python_file_is_over_500_lines():
    """The library's modules, the tests and the scripts alike."""
    files = [p for folder in ("recft_utils", "tests", "scripts") for p in (PACKAGE.parent / folder).rglob("*.py")]
    lines = {str(p.relative_to(PACKAGE.parent)): len(p.read_text(encoding="utf-8").splitlines()) for p in files}
    assert {name: n for name, n in lines.items() if n > 500} == {}


def test_the_backend_module_chooses_tensorflow_and_imports_it_only_when_asked():
    import subprocess
    import sys

    probe = (
        "import os, sys; import recft_utils.text, recft_utils.keras_backend as backend; "
        "print(os.environ['KERAS_BACKEND'], 'tensorflow' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["tensorflow", "False"]  # the text package and the bootstrap load no TensorFlow

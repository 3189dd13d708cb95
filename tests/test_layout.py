"""The house a student and an engineer both live in: LeNet is easy to find, functions are short,
files are small, lenet never reaches for the app, the textbook never leans on its extension rooms,
each page's room serves its page alone, every name has one import path, tests mirror the code, and
the README's map names every source file."""
import ast
import re
from functools import cache
from pathlib import Path

import pytest

from lenet.files import ROOT

CODE = ("lenet", "ui", "pages")
MAX_FUNCTION, MAX_FILE, MAX_PAGE = 60, 350, 80
PAGE_ROOMS = {"draw": "draw", "train": "train", "explain": "explain", "build": "build", "classroom": "class"}
PACKAGES = ("lenet", "ui", "pages", "deploy", "bench", "tests", "harness")  # the project's own imports
MIRRORS = {"lenet": ("lenet/*.py",), "inside": ("lenet/inside/*.py",), "classroom": ("lenet/classroom/*.py",),
           "ui": ("ui/**/*.py", "pages/*.py", "app.py"), "deploy": ("deploy/*.py",)}  # tests/<room>/test_<module>.py


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


def sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """Every import in the file, at any depth: (line, the absolute module, the names taken from it)."""
    package = module_of(path) if path.name == "__init__.py" else module_of(path).rpartition(".")[0]
    found = []
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.append((node.lineno, module, [alias.name for alias in node.names]))
    return found


def file_of(module: str) -> Path | None:
    path = ROOT / Path(*module.split("."))
    return path / "__init__.py" if (path / "__init__.py").exists() else \
        path.with_suffix(".py") if path.with_suffix(".py").exists() else None


def defined(path: Path) -> set[str]:
    """The names a module defines at its top level (not those it imports)."""
    names = set()
    for node in tree(path).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) \
            else []
        names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def test_no_function_is_over_sixty_lines_and_no_file_over_three_hundred_and_fifty():
    long_functions, long_files = [], []
    for path in sources(*CODE, "tests", "bench", "deploy", "harness"):
        text = path.read_text()
        if len(text.splitlines()) > MAX_FILE:
            long_files.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
        if path.parts[len(ROOT.parts)] not in CODE:
            continue
        for node in ast.walk(tree(path)):
            function = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            if function and node.end_lineno - node.lineno >= MAX_FUNCTION:
                long_functions.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert long_functions == [] and long_files == [], (long_functions, long_files)


def test_pages_read_as_descriptions_of_the_page():
    """A page says what is on it, top to bottom; what it calls lives in its room in ui/."""
    long = {p.name: n for p in sources("pages") if (n := len(p.read_text().splitlines())) > MAX_PAGE}
    assert long == {}


def test_lenet_shows_its_rooms_and_never_imports_streamlit():
    top = {p.stem for p in (ROOT / "lenet").glob("*.py")}
    assert {"data", "models", "fast", "train", "preprocess", "ink", "checkpoints", "predict", "settings", "messages",
            "cli"} <= top
    assert {p.stem for p in (ROOT / "lenet" / "inside").glob("*.py")} >= {"introspect", "stepper", "attribution",
                                                                          "embedding"}
    assert {p.stem for p in (ROOT / "lenet" / "classroom").glob("*.py")} >= {"jobs", "runs", "collection", "finetune",
                                                                             "tuning", "protocol"}
    for path in sources("lenet"):
        roots = {module.split(".")[0] for _, module, _ in imports(path)}
        assert "streamlit" not in roots and "ui" not in roots, path


def test_the_textbook_stands_alone():
    """The model a student reads and the loop they read import nothing from the extension rooms:
    hardening, the live hook and the classroom come to the loop from its caller."""
    for name in ("models", "train"):
        reached = [module for _, module, _ in imports(ROOT / "lenet" / f"{name}.py")
                   if module.startswith(("lenet.inside", "lenet.classroom"))]
        assert reached == [], (name, reached)


def test_no_import_runs_in_a_circle():
    """Imports form layers: one at any depth from a module back to one that imports it is a circle."""
    graph: dict[str, set[str]] = {}
    for path in sources("lenet", "ui", "deploy"):
        edges = graph.setdefault(module_of(path), set())
        for _, module, names in imports(path):
            for target in [f"{module}.{n}" for n in names if file_of(f"{module}.{n}")] or [module]:
                if file_of(target) is not None and not target.endswith("__init__"):
                    edges.add(module_of(file_of(target)))
    done: set[str] = set()

    def walk(node: str, trail: list[str]) -> None:
        assert node not in trail, " -> ".join(trail[trail.index(node):] + [node])
        if node not in done:
            for nxt in graph.get(node, ()):
                walk(nxt, trail + [node])
            done.add(node)

    for start in graph:
        walk(start, [])


def test_each_page_room_serves_its_page_alone():
    """ui/<room>/ is imported by pages/<page>.py and by its own room; ui/common/ and ui/inside/ by anyone."""
    for path in sources("ui", "pages", "lenet", "deploy") + [ROOT / "app.py"]:
        importer = path.relative_to(ROOT).parts
        for line, module, names in imports(path):
            wanted = [module] + [f"{module}.{n}" for n in names] if module == "ui" else [module]
            for room in {m.split(".")[1] for m in wanted if m.startswith("ui.") and m.count(".") >= 1}:
                if room not in PAGE_ROOMS:
                    continue
                own = importer[:2] == ("ui", room) or importer == ("pages", f"{PAGE_ROOMS[room]}.py")
                assert own, f"{path.relative_to(ROOT)}:{line} imports ui/{room}/, which serves pages/" \
                            f"{PAGE_ROOMS[room]}.py alone"


def test_every_name_has_one_import_path():
    """A name is imported from the module that defines it, never from one that imported it too, and
    `__all__` lists only a module's own names."""
    wrong = []
    for path in sources(*PACKAGES) + [ROOT / "app.py"]:
        for line, module, names in imports(path):
            target = file_of(module) if module.split(".")[0] in PACKAGES else None
            if target is None:
                continue
            own = defined(target)
            wrong += [f"{path.relative_to(ROOT)}:{line} {module}.{n}" for n in names
                      if n != "*" and n not in own and file_of(f"{module}.{n}") is None]
        listed = next((node.value for node in tree(path).body if isinstance(node, ast.Assign)
                       and any(getattr(t, "id", None) == "__all__" for t in node.targets)), None)
        if listed is not None:
            wrong += [f"{path.relative_to(ROOT)}: __all__ lists {e.value}" for e in listed.elts
                      if e.value not in defined(path)]
    assert wrong == []


def dataclasses_defined() -> set[str]:
    return {node.name for path in sources(*PACKAGES) for node in ast.walk(tree(path))
            if isinstance(node, ast.ClassDef) and any(getattr(d, "id", None) == "dataclass"
                                                      or getattr(getattr(d, "func", None), "id", None) == "dataclass"
                                                      for d in node.decorator_list)}


def test_dataclasses_are_built_with_keywords():
    """Progress(cfg=..., model=...), never Progress(cfg, model, ...): a reader sees which field is which."""
    names, positional = dataclasses_defined(), []
    for path in sources(*PACKAGES):
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.Call) and len(node.args) >= 2:
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in names:
                    positional.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert positional == []


@pytest.mark.parametrize(("importer", "imported"), [("tests", "bench"), ("bench", "tests"), ("harness", "tests"),
                                                    ("harness", "bench")])
def test_tests_and_benches_share_only_the_harness(importer, imported):
    for path in sources(importer):
        modules = [module for _, module, _ in imports(path)]
        assert not any(m == imported or m.startswith(imported + ".") for m in modules), path


def test_tests_mirror_the_code():
    """tests/<room>/test_<module>.py tests <module> of that room, so a new test's place follows from
    the path of what it tests; the browser tests are by page, and tests/ itself holds the house's."""
    stray = []
    for room, code in MIRRORS.items():
        modules = {p.stem for pattern in code for p in ROOT.glob(pattern)}
        stray += [str(p.relative_to(ROOT)) for p in (ROOT / "tests" / room).glob("test_*.py")
                  if p.stem.removeprefix("test_") not in modules]
    rooms = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert rooms == {*MIRRORS, "browser"} and stray == []


def file_map() -> set[str]:
    """The paths the README's map ("Where things are") names, folders nesting by indentation."""
    block = re.search(r"## Where things are\n+```\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    paths, folders = set(), []  # folders: (indentation, path) of the folders open above the line
    for line in block.splitlines():
        found = re.match(r"( *)(\S+)(?: {2,}|$)", line)
        if not found or not re.fullmatch(r"[\w.\-]+(/[\w.\-]+)*/?", found[2]):
            continue  # a description carried over from the line above
        indent, name = len(found[1]), found[2]
        folders = [(i, f) for i, f in folders if i < indent]
        path = (folders[-1][1] if folders else "") + name
        if name.endswith("/"):
            folders.append((indent, path))
        paths.add(path.rstrip("/"))
    return paths


def test_the_readme_maps_every_source_file():
    mapped = file_map()
    files = [p for p in sources("lenet", "ui", "pages", "deploy") if p.name != "__init__.py"]
    missing = [str(p.relative_to(ROOT)) for p in files if str(p.relative_to(ROOT)) not in mapped]
    gone = [p for p in mapped if not (ROOT / p).exists()]
    assert missing == [] and gone == []


def test_the_train_loop_takes_at_most_six_parameters():
    tree = ast.parse((ROOT / "lenet" / "train.py").read_text())
    train = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "train")
    assert len(train.args.args) + len(train.args.kwonlyargs) <= 6

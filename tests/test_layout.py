"""The code a student and an engineer both live in: LeNet is easy to find, functions are short,
files are small, lenet never reaches for the app, and tests never lean on the benches."""
import ast
from pathlib import Path

from tests.conftest import ROOT

CODE = ("lenet", "ui", "pages")
MAX_FUNCTION, MAX_FILE = 60, 350


def sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def test_no_function_is_over_sixty_lines_and_no_file_over_three_hundred_and_fifty():
    long_functions, long_files = [], []
    for path in sources(*CODE, "tests", "bench"):
        text = path.read_text()
        if len(text.splitlines()) > MAX_FILE:
            long_files.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
        if path.parts[len(ROOT.parts)] not in CODE:
            continue
        for node in ast.walk(ast.parse(text)):
            function = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            if function and node.end_lineno - node.lineno >= MAX_FUNCTION:
                long_functions.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert long_functions == [] and long_files == [], (long_functions, long_files)


def test_lenet_shows_its_rooms_and_never_imports_streamlit():
    top = {p.stem for p in (ROOT / "lenet").glob("*.py")}
    assert {"data", "models", "fast", "train", "preprocess", "ink", "checkpoints", "predict", "settings", "messages",
            "cli"} <= top
    assert {p.stem for p in (ROOT / "lenet" / "inside").glob("*.py")} >= {"introspect", "stepper", "attribution",
                                                                          "embedding"}
    assert {p.stem for p in (ROOT / "lenet" / "classroom").glob("*.py")} >= {"jobs", "runs", "collection", "finetune",
                                                                             "tuning"}
    for path in sources("lenet"):
        imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.Import) for alias in node.names}
        imported |= {(node.module or "").split(".")[0] for node in ast.walk(ast.parse(path.read_text()))
                     if isinstance(node, ast.ImportFrom)}
        assert "streamlit" not in imported and "ui" not in imported, path


def test_tests_import_nothing_from_the_benches():
    for path in sources("tests"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "bench" or n.startswith("bench.") for n in names), path


def test_the_train_loop_takes_at_most_six_parameters():
    tree = ast.parse((ROOT / "lenet" / "train.py").read_text())
    train = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "train")
    assert len(train.args.args) + len(train.args.kwonlyargs) <= 6

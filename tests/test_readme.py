"""The README's python blocks: each runs as pasted, alone, and prints what its comments say."""

import ast
import builtins
import contextlib
import io
import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    """The README's fenced python blocks, in order."""
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def free_names(source: str) -> set[str]:
    """Names a block reads but never binds (imports, assignments, definitions) and that are not builtins."""
    bound, read = set(dir(builtins)), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return read - bound


def test_the_readme_has_its_six_examples_and_each_stands_alone():
    blocks = python_blocks()
    assert len(blocks) == 6
    assert [sorted(free_names(b)) for b in blocks] == [[], [], [], [], [], []]
    assert free_names("y = x + 1") == {"x"}  # the check sees a name no line binds


def _run(block: str, path: Path, monkeypatch) -> str:
    monkeypatch.chdir(path)  # the examples write small files (checkpoint, model, figure) into the working folder
    out = io.StringIO()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as timed in the README; tiny models gain nothing from a second thread
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(block, "README.md", "exec"), {"__name__": "__main__"})
    finally:
        torch.set_num_threads(threads)
    return out.getvalue()


def _numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"\d\.\d+e[-+]\d+", text)]


def _check(comment: str, shown: list[str]) -> None:
    """The printed lines ``shown`` against the comment of the line that printed them.

    ``# < 1e-12``: every printed number below the bound; ``# (2, 5, 1)`` or ``# [...]``: the text itself;
    ``# 3.9e-03 ...``: the printed numbers, each within a factor of 10 of the comment's (training on another
    CPU takes other round-off, so the digits may differ).
    """
    if comment.startswith("<"):
        bound = float(comment[1:].split(":")[0].split()[0])
        assert all(float(line) < bound for line in shown), (comment, shown)
    elif comment.startswith(("(", "[")):
        assert shown == [comment.split("  ")[0].strip()], (comment, shown)
    elif expected := _numbers(comment):
        got = [v for line in shown for v in _numbers(line)]
        assert len(got) == len(expected), (comment, shown)
        assert all(e / 10 <= g <= e * 10 for g, e in zip(got, expected)), (comment, shown)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_block_runs_alone_and_prints_what_its_comments_say(index, tmp_path, monkeypatch):
    # measured on one core: about 12, 30, 30, 12, 6 and 10 s
    block = python_blocks()[index]
    printed = _run(block, tmp_path, monkeypatch).splitlines()
    lines = block.splitlines()
    prints = [line for line in lines if line.startswith("print(")]  # top level: one printed line each
    loop = next((line for line in lines if line.startswith("for ")), None)  # a loop printing the rest
    assert len(printed) >= len(prints) and (loop is not None or len(printed) == len(prints))
    for line, shown in zip(prints, printed):
        _check(line.partition("  # ")[2], [shown])
    if loop is not None:
        _check(loop.partition("  # ")[2], printed[len(prints) :])

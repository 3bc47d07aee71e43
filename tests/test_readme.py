"""README.md's Python example runs as written, on small data the test makes."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, make_reviews


def python_blocks(section: str) -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    with open(tmp_path / "reviews.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(make_reviews(300))
    return tmp_path


def run_python(code: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_python_section_runs_as_written(workdir: Path):
    (block,) = python_blocks("Python")
    # the example loads a model from the main job's folder: a small one trained there first
    run_python(
        "from attnclf.config import DataConfig, TextConfig, TrainConfig\n"
        "from attnclf.training.run import prepare_data, train_model\n"
        "data = prepare_data(DataConfig(source='reviews.csv'), TextConfig())\n"
        "train_model('self-attention', data, TrainConfig(epochs=2), "
        "out='runs/compare/self-attention', progress=False)\n",
        workdir,
    )
    printed = run_python(block, workdir).splitlines()
    assert len(printed) == 3
    assert all(line.split()[0] in ("pos", "neg") for line in printed[:2])  # label, p, top words
    assert 0.0 <= float(printed[2]) <= 1.0


def test_the_readme_stays_a_front_page():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    first_screen = text.split("\n## ", 2)
    assert "![" in first_screen[0] and first_screen[1].startswith("The two commands")
    for link in re.findall(r"\]\(((?:docs/)[^)#]+)", text):
        assert (REPO / link).exists(), link

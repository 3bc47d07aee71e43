"""README.md's Python examples run as written, on small data the test makes."""

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
    blocks = python_blocks("Python")
    assert len(blocks) == 3
    # the second block trains and saves a model; the first loads one from a compare run
    run_python(blocks[1], workdir)
    assert (workdir / "models" / "mh" / "model.safetensors").exists()
    run_python(
        "from attnclf.config import DataConfig, TextConfig, TrainConfig\n"
        "from attnclf.training.run import prepare_data, train_model\n"
        "data = prepare_data(DataConfig(source='reviews.csv'), TextConfig())\n"
        "train_model('self-attention', data, TrainConfig(epochs=2), "
        "out='runs/compare/self-attention', progress=False)\n",
        workdir,
    )
    printed = run_python(blocks[0], workdir).splitlines()
    assert len(printed) == 4 and printed[0].split()[0] in ("pos", "neg")


def test_the_estimator_example_runs_as_written(workdir: Path):
    import attnclf

    printed = run_python(python_blocks("Python")[2], workdir).splitlines()
    assert len(printed) == 2 and 0.0 <= float(printed[0]) <= 1.0
    assert printed[1].startswith("[") and ("pos" in printed[1] or "neg" in printed[1])
    loaded = attnclf.load(workdir / "models" / "sa", device="cpu")
    assert loaded.architecture == "self-attention"

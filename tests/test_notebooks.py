"""The notebooks run top to bottom (their code cells, in order, in one namespace) and are stored without outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_is_stripped(path: Path) -> None:
    notebook = json.loads(path.read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code and all(not cell["outputs"] and cell["execution_count"] is None for cell in code)
    namespace: dict = {"__name__": "__notebook__"}
    environment = dict(os.environ)
    try:
        for number, cell in enumerate(code):
            exec(compile("".join(cell["source"]), f"{path.name}[code cell {number}]", "exec"), namespace)
    finally:  # a notebook may set variables (e.g. GAD_RUNS_DIR) that must not reach later tests
        os.environ.clear()
        os.environ.update(environment)

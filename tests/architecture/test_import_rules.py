"""The import rules of docs/architecture.md hold, and `lint-imports` would catch a break of each.

Each violation is injected into a copy of the packages in a temporary folder, and `lint-imports`
runs there with the project's own contracts (pyproject.toml): the check must fail, naming the
contract that broke.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hallwatch", "vision", "edge", "server", "models")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # The copy first on the path, so that the editable install's finder never answers for it.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "cache", "static")
        )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_project_keeps_every_import_rule() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("edge/layout.py", "import server.settings", "Edge nodes import no server module"),
        ("server/api/events.py", "import edge.config", "The server imports no edge module"),
        # Indirect: the server reaching the detector through the core breaks the rule too.
        ("server/api/events.py", "import vision.processor", "nothing of the detector"),
        ("hallwatch/contract/__init__.py", "import numpy", "no third party but pydantic"),
        ("hallwatch/contract/__init__.py", "import vision.state", "imports nothing of the project"),
        ("vision/zones.py", "import edge.config", "The vision core imports no shell"),
        ("vision/spacing.py", "import ultralytics", "Only the detector and tracker adapters"),
        ("vision/pose_head.py", "import openvino", "Only the OpenVINO adapter touches openvino"),
    ],
)
def test_a_deliberate_violation_fails_the_check(
    copy: Path, module: str, bad_import: str, contract: str
) -> None:
    target = copy / module
    original = target.read_text()
    try:
        target.write_text(original + f"\n{bad_import}  # injected by the test\n")
        result = lint_imports(copy)
    finally:
        target.write_text(original)
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in " ".join(broken.split()), result.stdout

"""A new user's first steps in a fresh clone: the README's `make test`, as far as one test can go.

`make test` in a clone runs this very suite, so the test stops short of it: it clones the
repository, checks that `make test` asks for the Debian packages before anything else, and runs
what `make test` builds and checks first: the virtual environment (`.[all,test]`, from nothing),
the pages' npm packages, ruff, mypy, the import contracts and the JavaScript checkers, then the
contract's tests with the clone's own environment. The system-package check fails fast with the
exact apt-get command when it cannot install.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_DEPS = ROOT / "scripts" / "system-deps.sh"

pytestmark = pytest.mark.timeout(1500)


def user_env() -> dict[str, str]:
    """The environment a user's shell has: none of the make variables of a `make test` around us."""
    return {
        k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")
    }


def run(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout_s: float = 1200) -> str:
    result = subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout_s, env=env or user_env()
    )
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_the_system_packages_are_checked_first_and_a_user_is_told_the_command(tmp_path: Path) -> None:
    order = run("make", "-n", "test", cwd=ROOT)
    assert order.lstrip().startswith("scripts/system-deps.sh test"), order[:300]
    # Not root, and a package missing (here: the video, looked for elsewhere): one line, the command.
    env = {**user_env(), "HALLWATCH_VTEST": str(tmp_path / "missing.avi")}
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(SYSTEM_DEPS), "test"],
        capture_output=True, text=True, env=env, timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "hallwatch: missing Debian packages; run: sudo apt-get install -y --no-install-recommends opencv-doc"
    ]


def test_a_fresh_clone_builds_and_checks_itself(tmp_path: Path) -> None:
    clone = tmp_path / "hallwatch"
    run("git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone), cwd=tmp_path)
    # What `make test` does before pytest, from nothing: venv, pip, npm, then every static check.
    run("make", "system-deps-test", "lint", "typecheck", "imports", "js", "web", cwd=clone)
    assert (clone / ".venv/.installed-test").is_file()
    assert (clone / "server/web/static/vendor/versions.json").is_file()
    out = run(str(clone / ".venv/bin/pytest"), "-q", "-p", "no:cacheprovider", "tests/contract", cwd=clone)
    assert " passed" in out and "failed" not in out
    # The clone's own package, not this checkout's, is what its environment imports.
    where = run(
        str(clone / ".venv/bin/python"),
        "-c",
        "import hallwatch.contract as c; print(c.__file__)",
        cwd=tmp_path,
    )
    assert where.strip().startswith(str(clone))

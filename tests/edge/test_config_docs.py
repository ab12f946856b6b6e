from __future__ import annotations

from pathlib import Path

from edge.config_docs import render

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_configuration_reference_matches_the_models() -> None:
    assert REFERENCE.read_text() == render(), (
        "regenerate it: python -m edge.config_docs > docs/configuration.md"
    )


def test_the_reference_names_every_zone_kind_and_its_limits() -> None:
    text = render()
    for heading in (
        "zones[] (kind: window)",
        "zones[] (kind: queue)",
        "zones[] (kind: hall)",
        "zones[] (kind: entrance)",
    ):
        assert heading in text
    assert "| `max_people` | int | `2` |" in text

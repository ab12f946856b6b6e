"""CSV cells: floats without their binary noise (issue 13: "1.5999999999999996" in the export)."""

from __future__ import annotations

import pytest

from server.api.export import _cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (0.1 + 0.2, "0.3"),
        (1.5999999999999996, "1.6"),
        (3.0, "3.0"),
        (1234567.891234567, "1234567.891235"),
        (7, "7"),
    ],
)
def test_floats_are_written_to_six_decimals_at_most(value: float, cell: str) -> None:
    assert _cell(value) == cell

"""Data files the tests read from the machine, never from the network."""

from __future__ import annotations

from pathlib import Path

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")  # Debian's opencv-doc
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # beside the checkout

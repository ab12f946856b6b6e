"""Where the static files are, and whether the npm-installed vendor files are there.

The vendor files (uPlot; Swagger UI for /api/docs) are not in git: ``make web`` installs them with
``npm ci`` from ``web/package-lock.json`` and copies them into ``static/vendor/``. Pages that need them answer
503 with "run make web" while they are missing, and the server logs it once at start.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"

# Relative to static/vendor/; what scripts/copy-vendor.mjs in web/ writes.
VENDOR_FILES = (
    "uplot/uPlot.esm.js",
    "uplot/uPlot.min.css",
    "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui-dist/swagger-ui.css",
    "versions.json",
)
VENDOR_HINT = "run `make web` (npm ci in web/, then copies the files into server/web/static/vendor/)"


def missing_vendor_files(vendor_dir: Path | None = None) -> list[str]:
    """The vendor files that are not installed (empty when `make web` has run)."""
    folder = vendor_dir if vendor_dir is not None else STATIC_DIR / "vendor"
    return [name for name in VENDOR_FILES if not (folder / name).is_file()]


def vendor_versions(vendor_dir: Path | None = None) -> dict[str, str]:
    """Installed front-end packages and their versions (empty when missing)."""
    folder = vendor_dir if vendor_dir is not None else STATIC_DIR / "vendor"
    try:
        data = json.loads((folder / "versions.json").read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def check_vendor(vendor_dir: Path | None = None) -> bool:
    """Log an error naming the fix when vendor files are missing; True when all are there."""
    missing = missing_vendor_files(vendor_dir)
    if missing:
        log.error(
            "front-end files missing from server/web/static/vendor/ (%s): the dashboard and report "
            "pages will answer 503 until you %s",
            ", ".join(missing),
            VENDOR_HINT,
        )
        return False
    return True

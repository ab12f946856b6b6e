"""Query parameters several routers share: sites, time ranges, pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, AwareDatetime

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

SitePath = Annotated[str, Path(pattern=NAME_PATTERN, description="the site (hall) id")]
NodePath = Annotated[str, Path(pattern=NAME_PATTERN, description="the edge node id")]
SiteQuery = Annotated[str | None, Query(pattern=NAME_PATTERN, description="only this site")]
NameQuery = Annotated[str | None, Query(pattern=NAME_PATTERN)]
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _sane_time(value: datetime) -> datetime:
    """A time the server can compute with: converted to UTC, between 1970 and 2200.

    Year 1 or 9999 with an offset has no UTC time at all, and ranges around them overflow: refused
    (422) here instead of failing deep in a query (500).
    """
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError("times must lie between 1970 and 2200")
    return utc


#: A query time: with a time zone, between 1970 and 2200.
ApiTime = Annotated[AwareDatetime, AfterValidator(_sane_time)]
Start = Annotated[
    ApiTime | None, Query(description="from (inclusive), with a time zone; default: end - 24 h")
]
End = Annotated[ApiTime | None, Query(description="until (exclusive), with a time zone; default: now")]
Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="items to skip")]

MAX_SPAN = {"minute": timedelta(days=31), "hour": timedelta(days=400), "day": timedelta(days=3660)}


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime
    end: datetime


def time_range(
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    *,
    default: timedelta = timedelta(hours=24),
    max_span: timedelta | None = None,
) -> TimeRange:
    """Fill in defaults and check the range.

    Raises:
        HTTPException: 422 when start is not before end or the span is too long.
    """
    end = end or now
    start = start or end - default
    if start >= end:
        raise _invalid("start", start, "start must be before end")
    if max_span is not None and end - start > max_span:
        raise _invalid(
            "start",
            start,
            f"the range is longer than {max_span.days} days; use a coarser resolution or a shorter range",
        )
    return TimeRange(start, end)


def _invalid(field: str, value: object, message: str) -> RequestValidationError:
    """A 422 shaped like FastAPI's own validation errors (as the OpenAPI document says)."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", field), "msg": message, "input": str(value)}]
    )

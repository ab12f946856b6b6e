"""Camera events (zone limits, spacing violations, entries, lost cameras)."""

from __future__ import annotations

from typing import Annotated, get_args

from fastapi import APIRouter, Query

from hallwatch.contract import EventType
from server.api.params import End, Limit, NameQuery, Offset, SiteQuery, Start
from server.deps import EventsReader, ServicesDep
from server.schemas.events import EventOut, EventPage
from server.store.history import EventFilter

router = APIRouter(prefix="/api/v1/events", tags=["events"])
EVENT_TYPES: tuple[str, ...] = get_args(EventType)


@router.get("")
def list_events(
    user: EventsReader,
    services: ServicesDep,
    site: SiteQuery = None,
    type_: Annotated[list[EventType] | None, Query(alias="type")] = None,
    camera: NameQuery = None,
    zone: NameQuery = None,
    start: Start = None,
    end: End = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> EventPage:
    """Events newest first; ``start``/``end`` filter on the edge's frame time."""
    flt = EventFilter(
        site=site, sites=user.site_list, types=type_ or (), camera=camera, zone=zone, start=start, end=end
    )
    rows, total = services.store.history.events(flt, limit, offset)
    return EventPage(
        items=[EventOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )

"""Alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, computed_field

from server.alerts.model import RuleName, Severity
from server.schemas.base import In, Out

AlertStatus = Literal["open", "acknowledged", "resolved"]


class AlertOut(Out):
    id: int
    site: str
    rule: RuleName
    subject: str = Field(description="the zone, camera or node the alert is about")
    zone: str | None
    camera: str | None
    node: str | None
    severity: Severity
    status: AlertStatus
    message: str
    value: int | None = Field(description="the count (or number of violations) when last changed")
    limit: int | None
    peak: int | None = Field(description="highest value seen while open")
    opened_at: datetime
    reopened_at: datetime | None
    reopen_count: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    escalated_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None = Field(description="who resolved it; null when it cleared by itself")
    note: str | None
    updated_at: datetime
    version: int = Field(description="grows with every change; pages keep the highest")
    floor_x: float | None = Field(default=None, description="where on the floor, metres (spacing: the pair)")
    floor_y: float | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def escalated(self) -> bool:
        return self.escalated_at is not None


class AlertPage(Out):
    items: list[AlertOut]
    total: int
    limit: int
    offset: int


class AlertActionIn(In):
    note: str | None = Field(default=None, max_length=500, description="optional note shown with the alert")

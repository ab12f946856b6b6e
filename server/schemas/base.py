"""Shared pieces of the API schemas."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    """A response model; reads attributes of database rows and dataclasses."""

    model_config = ConfigDict(from_attributes=True, frozen=True)


class In(BaseModel):
    """A request model; unknown fields and numbers that are not finite (NaN, Infinity) are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

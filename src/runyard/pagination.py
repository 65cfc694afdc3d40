"""Paging shared by every list: ``current_page`` (>= 1) and ``per_page`` (1-100)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel


class PageMeta(BaseModel):
    current_page: int
    per_page: int
    total_count: int


@dataclass(frozen=True)
class Page:
    current_page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.current_page - 1) * self.per_page

    def meta(self, total: int) -> PageMeta:
        return PageMeta(current_page=self.current_page, per_page=self.per_page, total_count=total)


async def _page(
    current_page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Page:
    return Page(current_page, per_page)


PageDep = Annotated[Page, Depends(_page)]

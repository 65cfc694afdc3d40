"""Queries on device pairings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from runyard.db.repository import Repository
from runyard.models import DevicePairing


class PairingRepository(Repository):
    async def by_device_code(self, code_hash: str) -> DevicePairing | None:
        return await self.session.scalar(
            select(DevicePairing).where(DevicePairing.device_code_hash == code_hash)
        )

    async def by_user_code(self, code_hash: str, now: datetime) -> DevicePairing | None:
        """The newest unexpired pairing with this user code (codes are random; a repeat among
        live pairings is astronomically rare, and then the newest wins)."""
        return await self.session.scalar(
            select(DevicePairing)
            .where(DevicePairing.user_code_hash == code_hash, DevicePairing.expires_at > now)
            .order_by(DevicePairing.created_at.desc())
            .limit(1)
        )

    async def mark_delivered(self, pairing_id: str, now: datetime) -> bool:
        """approved → delivered, once: of two racing polls only one sees True."""
        result: Any = await self.session.execute(
            update(DevicePairing)
            .where(DevicePairing.id == pairing_id, DevicePairing.pairing_status == "approved")
            .values(pairing_status="delivered", delivered_at=now)
        )
        return int(result.rowcount or 0) == 1

    async def prune(self, before: datetime) -> int:
        """Forget pairings that expired before ``before`` and never delivered keys."""
        result: Any = await self.session.execute(
            delete(DevicePairing).where(
                DevicePairing.expires_at < before, DevicePairing.pairing_status != "delivered"
            )
        )
        return int(result.rowcount or 0)

"""Notifications the provider tests send."""

from __future__ import annotations

from backend.push.providers import Notification


def points_earned(purchase_id: str = "0190c3a8-0000-7000-8000-000000000001") -> Notification:
    return Notification(
        kind="points_earned",
        title="Начислено 35 баллов",
        body="Покупка в Astrocoffee на Тверской: баланс 1 235 баллов",
        collapse_key=f"points_earned:{purchase_id}",
        data={"purchase_id": purchase_id, "points": "35"},
        ttl_s=3600,
    )

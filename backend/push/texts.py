"""What a notification says, in the member's language (Russian plural forms included)."""

from __future__ import annotations

from backend.push.providers import Notification
from backend.push.schemas import Language


def russian_plural(n: int, one: str, few: str, many: str) -> str:
    """The form of a Russian noun after ``n``: 1 балл, 2 балла, 5 баллов, 21 балл, 11 баллов."""
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def points_key(purchase_id: str) -> str:
    return f"points_earned:{purchase_id}"


def points_earned(
    *, purchase_id: str, points: int, language: Language, purchases: int = 1
) -> Notification:
    """One notification per sale, whatever entries (the earn, campaigns' bonuses) made it;
    ``purchases`` > 1 when it also says the points of earlier sales not yet sent."""
    if language == "ru":
        title = f"+{points} {russian_plural(points, 'балл', 'балла', 'баллов')}"
        body = f"Начислено за {'покупки' if purchases > 1 else 'покупку'} в Astrocoffee"
    else:
        title = f"+{points} {'point' if points == 1 else 'points'}"
        body = f"Earned with your Astrocoffee {'purchases' if purchases > 1 else 'purchase'}"
    return Notification(
        kind="points_earned",
        title=title,
        body=body,
        collapse_key=points_key(purchase_id),
        data={"purchase_id": purchase_id, "points": str(points)},
    )


TIER_NAMES: dict[Language, dict[str, str]] = {
    "ru": {"green": "Зелёный", "gold": "Золотой", "platinum": "Платиновый"},
    "en": {"green": "Green", "gold": "Gold", "platinum": "Platinum"},
}


def tier_up(*, event_id: str, tier: str, language: Language) -> Notification:
    """The member reached a higher tier (one notification per ``tier.changed`` upward)."""
    name = TIER_NAMES[language].get(tier, tier)
    if language == "ru":
        title, body = f"Новый уровень: {name}", f"Поздравляем! Теперь ваш уровень — «{name}»"
    else:
        title, body = f"New tier: {name}", f"Congratulations! You are now {name}"
    return Notification(
        kind="tier_up",
        title=title,
        body=body,
        collapse_key=f"tier_up:{event_id}",
        data={"tier": tier},
    )


def offer_live(*, subject: str, name: str, language: Language) -> Notification:
    """An offer made for the member went live (``offer.available`` in their stream)."""
    if language == "ru":
        title, body = "Новое предложение для вас", name
    else:
        title, body = "A new offer for you", name
    return Notification(
        kind="offer_live",
        title=title,
        body=body,
        collapse_key=f"offer_live:{subject}"[:100],
        data={"offer": subject},
    )


def reward_earned(*, coupon_code: str, name: str, language: Language) -> Notification:
    """A stamp card completed: its reward, a coupon, is the member's (not marketing)."""
    if language == "ru":
        title, body = "Карточка заполнена — награда ваша", f"{name}: купон {coupon_code}"
    else:
        title, body = "Card complete: your reward is ready", f"{name}: coupon {coupon_code}"
    return Notification(
        kind="reward_earned",
        title=title,
        body=body,
        collapse_key=f"reward_earned:{coupon_code}"[:100],
        data={"coupon_code": coupon_code},
    )

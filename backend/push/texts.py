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


# The title and body of the notifications of member-stream events, in each language, with
# their {fields} filled in (``_told``).
_TEXTS: dict[str, dict[Language, tuple[str, str]]] = {
    "tier_up": {
        "ru": ("Новый уровень: {name}", "Поздравляем! Теперь ваш уровень — «{name}»"),
        "en": ("New tier: {name}", "Congratulations! You are now {name}"),
    },
    "offer_live": {
        "ru": ("Новое предложение для вас", "{name}"),
        "en": ("A new offer for you", "{name}"),
    },
    "reward_earned": {
        "ru": ("Карточка заполнена — награда ваша", "{name}: купон {coupon_code}"),
        "en": ("Card complete: your reward is ready", "{name}: coupon {coupon_code}"),
    },
}


def _told(
    kind: str, about: str, language: Language, data: dict[str, str], **fields: str
) -> Notification:
    """The ``kind``'s texts in ``language``; its repeats about the same thing collapse (the
    key: the kind and ``about``, at most 100 characters)."""
    title, body = (text.format(**fields) for text in _TEXTS[kind][language])
    return Notification(
        kind=kind, title=title, body=body, collapse_key=f"{kind}:{about}"[:100], data=data
    )


def tier_up(*, event_id: str, tier: str, language: Language) -> Notification:
    """The member reached a higher tier (one notification per ``tier.changed`` upward)."""
    name = TIER_NAMES[language].get(tier, tier)
    return _told("tier_up", event_id, language, {"tier": tier}, name=name)


def offer_live(*, subject: str, name: str, language: Language) -> Notification:
    """An offer made for the member went live (``offer.available`` in their stream)."""
    return _told("offer_live", subject, language, {"offer": subject}, name=name)


def reward_earned(*, coupon_code: str, name: str, language: Language) -> Notification:
    """A stamp card completed: its reward, a coupon, is the member's (not marketing)."""
    data = {"coupon_code": coupon_code}
    return _told("reward_earned", coupon_code, language, data, name=name, coupon_code=coupon_code)

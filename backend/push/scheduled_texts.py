"""What the daily notices say (``backend.push.scheduled_kinds``): points about to expire and a
birthday, in the member's language (Russian plural forms and month names included)."""

from __future__ import annotations

import uuid
from datetime import date

from backend.push.providers import Notification
from backend.push.schemas import Language
from backend.push.texts import russian_plural

# Month names as a date says them: "12 декабря" (genitive), "12 December".
_MONTHS: dict[Language, tuple[str, ...]] = {
    "ru": (
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def day_and_month(day: date, language: Language) -> str:
    return f"{day.day} {_MONTHS[language][day.month - 1]}"


def points_word(points: int, language: Language) -> str:
    if language == "ru":
        return russian_plural(points, "балл", "балла", "баллов")
    return "point" if points == 1 else "points"


def expiring_key(member_id: uuid.UUID, expires_on: date) -> str:
    return f"points_expiring:{member_id}:{expires_on.isoformat()}"


def points_expiring(
    *, member_id: uuid.UUID, points: int, expires_on: date, language: Language
) -> Notification:
    """``points`` of the member's lots expire on ``expires_on`` (their local date)."""
    when = day_and_month(expires_on, language)
    word = points_word(points, language)
    if language == "ru":
        verb = "сгорит" if russian_plural(points, "one", "few", "many") == "one" else "сгорят"
        title, body = f"{points} {word} {verb} {when}", "Потратьте их в Astrocoffee до этого дня"
    else:
        verb = "expires" if points == 1 else "expire"
        title, body = f"{points} {word} {verb} on {when}", "Spend them at Astrocoffee before then"
    return Notification(
        kind="points_expiring",
        title=title,
        body=body,
        collapse_key=expiring_key(member_id, expires_on),
        data={"points": str(points), "expires_on": expires_on.isoformat()},
    )


def birthday_key(member_id: uuid.UUID, year: int) -> str:
    return f"birthday:{member_id}:{year}"


def birthday(
    *,
    member_id: uuid.UUID,
    year: int,
    language: Language,
    treat_points: int | None = None,
    treat_until: date | None = None,
) -> Notification:
    """A birthday greeting; with the birthday campaign the member is in, its treat:
    ``treat_points`` on a purchase up to ``treat_until`` (None: the day itself)."""
    if language == "ru":
        title = "С днём рождения!"  # noqa: RUF001 (Russian text)
        body = "Команда Astrocoffee желает вам прекрасного дня"
        if treat_points is not None:
            body = f"Наш подарок — {treat_points} {points_word(treat_points, 'ru')} за покупку"
            body += f" до {day_and_month(treat_until, 'ru')}" if treat_until else " сегодня"
    else:
        title, body = "Happy birthday!", "Have a wonderful day, from all of us at Astrocoffee"
        if treat_points is not None:
            body = f"Our gift: {treat_points} {points_word(treat_points, 'en')} with a purchase"
            body += f" until {day_and_month(treat_until, 'en')}" if treat_until else " today"
    data = {"year": str(year)}
    if treat_points is not None:
        data["treat_points"] = str(treat_points)
    return Notification(
        kind="birthday",
        title=title,
        body=body,
        collapse_key=birthday_key(member_id, year),
        data=data,
    )

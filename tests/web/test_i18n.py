"""The web client's two languages, checked without a browser: both message catalogues
hold the same keys (plural messages with every form their language needs), every key a page
or script names exists, and no page or script shows text of its own that the catalogue does
not give (text typed into markup or into a script's message calls)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from backend.web.routes import CONSOLE_PAGES, console_page, served_page

STATIC = Path(__file__).parents[2] / "backend" / "web" / "static"
LANGUAGES = ("en", "ru")
# CLDR plural categories each language's integers use (Intl.PluralRules picks among them).
PLURAL_FORMS = {"en": {"one", "other"}, "ru": {"one", "few", "many", "other"}}
# The member page, the dashboard, and each console page as served (in the console's shell).
PAGES = {
    **{path.name: served_page(path.name) for path in sorted(STATIC.glob("*.html"))},
    **{f"console/{name}": console_page(name).decode() for name in CONSOLE_PAGES},
}
SCRIPTS = sorted((STATIC / "js").rglob("*.js"))
# Words that are the same in every language: the brand, channel names in Latin letters.
NOT_WORDS = re.compile(r"^[\s\d+\-\u2013\u2014:;,.()/\u2026\u00b7{}\[\]\"'\u00ab\u00bb%#*]*$")


def catalogue(language: str) -> dict[str, str | dict[str, str]]:
    loaded: dict[str, str | dict[str, str]] = json.loads(
        (STATIC / "i18n" / f"{language}.json").read_text(encoding="utf-8")
    )
    return loaded


class _Markup(HTMLParser):
    """Keys a page names (data-i18n*) and text it shows that no data-i18n covers."""

    VOID = {"meta", "link", "input", "br", "img", "hr", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()
        self.untranslated: list[str] = []
        self._stack: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for name, value in named.items():
            if name.startswith("data-i18n") and value:
                self.keys.add(value)
        for attribute in ("placeholder", "aria-label", "title"):
            value = named.get(attribute)
            if value and not NOT_WORDS.match(value) and f"data-i18n-{attribute}" not in named:
                self.untranslated.append(f'{tag} {attribute}="{value}"')
        if tag not in self.VOID:
            covered = "data-i18n" in named or tag in {"script", "style", "code"}
            self._stack.append((tag, covered))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if not text or NOT_WORDS.match(text):
            return
        if not any(covered for _, covered in self._stack):
            self.untranslated.append(text)


def _markup(page: str) -> _Markup:
    parser = _Markup()
    parser.feed(PAGES[page])
    return parser


# t('key'), has('key'): keys a script names whole; a key built from a code (t(`ledger.${kind}`),
# wordFor('ledger', kind)) is checked by its prefix below.
_NAMED = re.compile(r"\b(?:t|has)\(\s*'([a-z0-9_.]+)'")
_BUILT = re.compile(r"\b(?:t|has)\(\s*`([a-z0-9_.]+)\.\$\{")
_WORD_FOR = re.compile(r"\bwordFor\(\s*'([a-z0-9_.]+)'")
# A message for the page's developers (a broken page, a missing catalogue), never translated.
_FOR_DEVELOPERS = "// for developers"
# Text a script puts on screen: a quoted literal with letters as a message, an element's
# text or a label.
_SHOWN = re.compile(
    r"(?:say\([^,()]+,\s*|textContent\s*=\s*|setText\('[^']+',\s*|new Error\(\s*|"
    r"'aria-label':\s*|el\('[a-z0-9]+',\s*\{[^{}]*\},\s*)(['\"`])([^'\"`]*[A-Za-z\u0400-\u04ff]{2}[^'\"`]*)\1"
)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_catalogue_has_every_key_with_its_plural_forms(language: str) -> None:
    messages = catalogue(language)
    assert set(messages) == set(catalogue("en")), "the catalogues name different keys"
    for key, message in messages.items():
        if isinstance(message, dict):
            assert set(message) >= PLURAL_FORMS[language], f"{language} {key}: {set(message)}"
        else:
            assert message.strip(), f"{language} {key} is empty"


def test_a_message_keeps_its_placeholders_in_every_language() -> None:
    def placeholders(message: str | dict[str, str]) -> set[str]:
        texts = message.values() if isinstance(message, dict) else [message]
        return {name for text in texts for name in re.findall(r"\{(\w+)\}", text)}

    english = catalogue("en")
    for key, message in catalogue("ru").items():
        assert placeholders(message) == placeholders(english[key]), key


@pytest.mark.parametrize("page", PAGES)
def test_a_page_names_only_keys_the_catalogues_have_and_shows_no_text_of_its_own(
    page: str,
) -> None:
    markup = _markup(page)
    known = set(catalogue("en"))
    assert markup.keys - known == set()
    assert markup.untranslated == []


@pytest.mark.parametrize(
    "script", SCRIPTS, ids=lambda script: script.relative_to(STATIC).as_posix()
)
def test_a_script_names_only_keys_the_catalogues_have_and_shows_no_text_of_its_own(
    script: Path,
) -> None:
    source = script.read_text(encoding="utf-8")
    known = set(catalogue("en"))
    assert set(_NAMED.findall(source)) - known == set()
    for prefix in [*_BUILT.findall(source), *_WORD_FOR.findall(source)]:
        assert any(key.startswith(f"{prefix}.") for key in known), prefix
    shown = [
        match.group(2)
        for line in source.splitlines()
        if _FOR_DEVELOPERS not in line
        for match in _SHOWN.finditer(line)
        # Only what is typed: ${...} parts are values (translated where they are words).
        if re.search(r"[A-Za-z\u0400-\u04ff]{2}", re.sub(r"\$\{[^}]*\}?", "", match.group(2)))
    ]
    assert shown == []


def test_russian_counts_points_in_its_three_forms() -> None:
    points = catalogue("ru")["common.points"]
    assert isinstance(points, dict)
    assert (points["one"], points["few"], points["many"]) == (
        "{count} балл",
        "{count} балла",
        "{count} баллов",
    )

"""The text a request may carry: no control characters, no invisible direction changes.

PostgreSQL cannot store NUL at all (text columns and JSONB alike), so a NUL that got past
decoding would fail the write. The other control characters (C0, DEL, C1) and the
bidirectional formatting characters (the Arabic letter mark, left-to-right and right-to-left
marks, embeddings, overrides and isolates) make a receipt number, a product or a store name
display as something other than what it holds ("Trojan Source"). Every free-text field of
the API is one of the types below, so the rule is the same everywhere and the OpenAPI
document states it; lengths are added where the field is declared, e.g.
``Annotated[Line, msgspec.Meta(min_length=1, max_length=200)]``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

_BIDI = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_NOT_IN_A_LINE = r"\x00-\x1f\x7f-\x9f" + _BIDI
# Several lines: tabs and line breaks are allowed, nothing else of the above.
_NOT_IN_PARAGRAPHS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + _BIDI

LINE_PATTERN = rf"^[^{_NOT_IN_A_LINE}]*$"
PARAGRAPH_PATTERN = rf"^[^{_NOT_IN_PARAGRAPHS}]*$"

# One line of text (names, codes, receipt numbers, categories).
Line = Annotated[str, msgspec.Meta(pattern=LINE_PATTERN)]
# One line with something in it besides spaces.
FilledLine = Annotated[
    str, msgspec.Meta(pattern=rf"^[^{_NOT_IN_A_LINE}]*[^{_NOT_IN_A_LINE}\s][^{_NOT_IN_A_LINE}]*$")
]
# Free text that may run over several lines (reasons, descriptions).
Paragraph = Annotated[str, msgspec.Meta(pattern=PARAGRAPH_PATTERN)]
FilledParagraph = Annotated[
    str,
    msgspec.Meta(
        pattern=rf"^[^{_NOT_IN_PARAGRAPHS}]*[^{_NOT_IN_PARAGRAPHS}\s][^{_NOT_IN_PARAGRAPHS}]*$"
    ),
]

# An email address: no spaces, control or bidirectional formatting characters in it.
_ADDRESS = rf"[^@\s{_NOT_IN_A_LINE}]+"
Email = Annotated[
    str, msgspec.Meta(pattern=rf"^{_ADDRESS}@{_ADDRESS}\.{_ADDRESS}$", max_length=254)
]

"""Turning a search box's text into SQL over titles and message text.

Every term must match (in the title or in any message of the chat). With
FTS5's trigram index a term of three or more characters is a substring
lookup in the index; shorter terms, and every term where FTS5 is missing,
use ``LIKE`` with ``%``, ``_`` and the escape character escaped, so a user's
``50%`` is literal text and not a wildcard.
"""

from __future__ import annotations

import re

MAX_TERMS = 16
_TERM = re.compile(r'"([^"]+)"|(\S+)')


def terms(query: str) -> list[str]:
    """Words of the query; a "quoted phrase" stays one term."""
    found = [quoted or bare for quoted, bare in _TERM.findall(query)]
    return [term for term in found if term.strip()][:MAX_TERMS]


def like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def search_clause(query: str, use_fts: bool, alias: str = "c") -> tuple[str, list[str]]:
    """A WHERE fragment (``1`` when there is nothing to search) and its parameters."""
    clauses: list[str] = []
    params: list[str] = []
    for term in terms(query):
        if use_fts and len(term) >= 3:
            clauses.append(
                f"({alias}.pk IN (SELECT rowid FROM chats_fts WHERE chats_fts MATCH ?)"
                f" OR {alias}.pk IN (SELECT m.chat_pk FROM messages m WHERE m.pk IN"
                " (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)))"
            )
            params += [fts_phrase(term), fts_phrase(term)]
        else:
            clauses.append(
                f"({alias}.title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m"
                f" WHERE m.chat_pk = {alias}.pk AND m.content LIKE ? ESCAPE '\\'))"
            )
            params += [like_pattern(term), like_pattern(term)]
    return (" AND ".join(clauses) or "1"), params

"""The text of a document a person attaches to a message: text, Markdown, code or PDF.

Why here and not in the browser: PDF text needs a real PDF parser (pypdf),
and one place decides what counts as text, so every client gets the same
answer and the same words when a file cannot be read.

Everything happens in memory: the bytes come in with the request and only
the text goes back; nothing is written to disk, and the file's name is only
echoed (its folders stripped), never used as a path. Hostile files are
bounded: the upload by :data:`MAX_UPLOAD_BYTES`, each PDF stream's
decompressed size by pypdf's own limits (75 MB), the pages read by
:data:`MAX_PDF_PAGES` and the text kept by :data:`MAX_TEXT_CHARS`.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from app.errors import BadRequest, HearthError

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 32 * 2**20
MAX_TEXT_CHARS = 2_000_000
"""About 500,000 tokens: more than any model's context, so nothing usable is refused."""
MAX_PDF_PAGES = 5000
PDF_SECONDS = 60.0
"""Past this a PDF is refused: a page of a hostile file can take long to read."""
MAX_NAME_CHARS = 200
CHARS_PER_TOKEN = 4

MARKDOWN_SUFFIXES = frozenset({"md", "markdown", "mdown", "mkd", "rst", "adoc", "org"})
CODE_LANGUAGES: dict[str, str] = {
    "py": "python",
    "pyi": "python",
    "js": "javascript",
    "mjs": "javascript",
    "cjs": "javascript",
    "jsx": "jsx",
    "ts": "typescript",
    "tsx": "tsx",
    "svelte": "svelte",
    "vue": "vue",
    "html": "html",
    "htm": "html",
    "css": "css",
    "scss": "scss",
    "json": "json",
    "jsonl": "json",
    "yaml": "yaml",
    "yml": "yaml",
    "toml": "toml",
    "ini": "ini",
    "cfg": "ini",
    "xml": "xml",
    "sql": "sql",
    "sh": "bash",
    "bash": "bash",
    "zsh": "bash",
    "ps1": "powershell",
    "c": "c",
    "h": "c",
    "cc": "cpp",
    "cpp": "cpp",
    "cxx": "cpp",
    "hpp": "cpp",
    "cs": "csharp",
    "java": "java",
    "kt": "kotlin",
    "go": "go",
    "rs": "rust",
    "rb": "ruby",
    "php": "php",
    "swift": "swift",
    "lua": "lua",
    "r": "r",
    "pl": "perl",
    "scala": "scala",
    "dart": "dart",
    "zig": "zig",
    "tex": "latex",
    "diff": "diff",
    "patch": "diff",
    "dockerfile": "dockerfile",
    "makefile": "makefile",
}
KNOWN_BINARY = {
    "docx": "a Word document",
    "doc": "a Word document",
    "odt": "an OpenDocument text",
    "xlsx": "a spreadsheet",
    "xls": "a spreadsheet",
    "pptx": "a presentation",
    "zip": "a zip archive",
    "gz": "a compressed file",
    "png": "an image",
    "jpg": "an image",
    "jpeg": "an image",
    "gif": "an image",
    "webp": "an image",
    "gguf": "a model file",
}
SUPPORTED = "text, Markdown, code and PDF files"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NAME_JUNK = re.compile(r"[\x00-\x1f\x7f]")


class DocumentTooLarge(HearthError):
    status = 413


class UnsupportedDocument(HearthError):
    status = 415


@dataclass(frozen=True)
class Document:
    """What the UI puts into the message: the text and what to show on the chip."""

    name: str
    kind: str  # "text", "markdown", "code" or "pdf"
    language: str  # a fence language for code ("" otherwise)
    text: str
    pages: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "language": self.language,
            "text": self.text,
            "chars": len(self.text),
        }
        if self.pages is not None:
            out["pages"] = self.pages
        return out


def clean_name(raw: str | None) -> str:
    """The file's own name, for the chip and the message: folders and control characters go.

    A name like ``../../etc/passwd`` or ``C:\\x\\y.txt`` arrives from some clients; it is only
    ever shown, but showing the folders would be wrong and cutting them makes it plainly so.
    """
    name = _NAME_JUNK.sub("", raw or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name in ("", ".", ".."):
        return "document"
    return name[:MAX_NAME_CHARS]


def suffix(name: str) -> str:
    """The lower-cased extension (``Makefile``/``Dockerfile`` count as their own)."""
    lower = name.lower()
    if lower in ("makefile", "dockerfile"):
        return lower
    return lower.rsplit(".", 1)[-1] if "." in lower else ""


def estimate_tokens(text: str) -> int:
    """Tokens by the usual 4-characters-a-token rule: what to show when no model can count."""
    return -(-len(text) // CHARS_PER_TOKEN)


def _too_long(name: str) -> DocumentTooLarge:
    return DocumentTooLarge(
        f"{name} holds more than {MAX_TEXT_CHARS:,} characters of text"
        f" (about {MAX_TEXT_CHARS // CHARS_PER_TOKEN:,} tokens), more than any model's context"
    )


def _decode_text(name: str, data: bytes) -> str:
    """UTF-8 (or UTF-16 with its byte-order mark); binary data is refused with words."""
    ext = suffix(name)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    elif b"\x00" not in data[:65536]:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            if ext not in KNOWN_BINARY:
                raise UnsupportedDocument(
                    f"{name} is not UTF-8 text (byte {error.start:,} is not valid UTF-8):"
                    " save it as UTF-8 and attach it again"
                ) from None
    what = KNOWN_BINARY.get(ext, "binary data, not text")
    raise UnsupportedDocument(f"{name} is {what}: Hearth can attach {SUPPORTED}")


def _tidy(text: str) -> str:
    """One kind of line end, no control characters (they confuse tokenizers and terminals)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def _pdf_text(name: str, data: bytes) -> tuple[str, int]:
    """(text of every page, page count); a file pypdf cannot read is a 400 that says so."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import (
            DependencyError,
            FileNotDecryptedError,
            LimitReachedError,
            PdfReadError,
        )
    except ImportError:  # pragma: no cover - pypdf is a dependency
        raise UnsupportedDocument("reading PDF files needs pypdf, which is not installed") from None
    started = time.monotonic()
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise BadRequest(f"{name} is protected by a password: Hearth cannot read its text")
        count = len(reader.pages)
        if count > MAX_PDF_PAGES:
            raise DocumentTooLarge(
                f"{name} has {count:,} pages; Hearth reads up to {MAX_PDF_PAGES:,}"
            )
        parts: list[str] = []
        total = 0
        for index, page in enumerate(reader.pages):
            if time.monotonic() - started > PDF_SECONDS:
                raise DocumentTooLarge(
                    f"{name} took more than {PDF_SECONDS:.0f} seconds to read"
                    f" (stopped at page {index + 1} of {count:,})"
                )
            piece = page.extract_text() or ""
            total += len(piece)
            if total > MAX_TEXT_CHARS:
                raise _too_long(name)
            parts.append(piece.strip())
    except HearthError:
        raise
    except LimitReachedError:
        raise DocumentTooLarge(
            f"{name} holds a part that unpacks to more than pypdf's limit (75 MB):"
            " Hearth does not read it (a damaged or hostile file?)"
        ) from None
    except (FileNotDecryptedError, DependencyError):
        raise BadRequest(
            f"{name} is encrypted in a way Hearth cannot open: save an unprotected copy"
        ) from None
    except (PdfReadError, MemoryError, RecursionError) as error:
        raise BadRequest(f"{name} is not a readable PDF: {error}") from None
    except Exception as error:  # noqa: BLE001 - a damaged file makes any parser step fail
        log.info("pypdf could not read %s: %r", name, error)
        raise BadRequest(
            f"{name} is not a readable PDF (damaged or not really a PDF): {type(error).__name__}"
        ) from None
    text = "\n\n".join(part for part in parts if part)
    if not text.strip():
        raise BadRequest(
            f"{name} has no text to read (a scan or pictures of pages?): Hearth reads the text"
            " layer of PDFs, not images"
        )
    return text, count


def extract(raw_name: str | None, data: bytes) -> Document:
    """The document's text, or a :class:`HearthError` saying why it cannot be attached."""
    name = clean_name(raw_name)
    if len(data) > MAX_UPLOAD_BYTES:
        raise DocumentTooLarge(f"{name} is larger than {MAX_UPLOAD_BYTES // 2**20} MiB")
    if not data:
        raise BadRequest(f"{name} is empty")
    ext = suffix(name)
    if data[:1024].lstrip().startswith(b"%PDF-") or (ext == "pdf" and b"%PDF-" in data[:1024]):
        text, pages = _pdf_text(name, data)
        return Document(name, "pdf", "", _tidy(text), pages)
    if ext == "pdf":
        raise BadRequest(f"{name} is not a PDF (it does not start with %PDF-)")
    text = _tidy(_decode_text(name, data))
    if len(text) > MAX_TEXT_CHARS:
        raise _too_long(name)
    if not text.strip():
        raise BadRequest(f"{name} holds only blank space")
    if ext in MARKDOWN_SUFFIXES:
        return Document(name, "markdown", "", text)
    if ext in CODE_LANGUAGES:
        return Document(name, "code", CODE_LANGUAGES[ext], text)
    return Document(name, "text", "", text)

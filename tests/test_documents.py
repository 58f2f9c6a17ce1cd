"""Attaching documents: POST /api/v1/documents/extract over real HTTP, real pypdf.

The PDFs are written here by hand (objects, a content stream, an xref table),
so what pypdf reads is known to the byte; the token count with a loaded model
uses the real llama-server and the real test model.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import requests

from app.chats import documents
from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthProcess
from tests.test_app_api_helpers import Api, api  # noqa: F401 - fixture


def pdf_bytes(
    pages: list[str], compress: bool = False, raw_streams: list[bytes] | None = None
) -> bytes:
    """A minimal, valid PDF: one page per entry of ``pages``, Helvetica text at the top."""
    streams = raw_streams or [
        f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1") for text in pages
    ]
    count = len(streams)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(f"{4 + 2 * i} 0 R".encode() for i in range(count))
        + f"] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, stream in enumerate(streams):
        content_number = 5 + 2 * index
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            b" /Resources << /Font << /F1 3 0 R >> >>"
            + f" /Contents {content_number} 0 R >>".encode()
        )
        body = zlib.compress(stream) if compress else stream
        flate = b" /Filter /FlateDecode" if compress else b""
        objects.append(
            f"<< /Length {len(body)}".encode() + flate + b" >>\nstream\n" + body + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def extract(api: Api, name: str, data: bytes, **params: str) -> requests.Response:  # noqa: F811
    return api.post(
        "/documents/extract",
        params={"name": name, **params},
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )


def home_files(api: Api) -> set[str]:  # noqa: F811
    return {str(p.relative_to(api.home)) for p in api.home.rglob("*") if p.is_file()}


def test_plain_text_markdown_and_code(api: Api) -> None:  # noqa: F811
    before = home_files(api)
    reply = extract(api, "notes.txt", b"The secret word is AUBERGINE.\r\nSecond line.\n")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["name"] == "notes.txt" and body["kind"] == "text" and body["language"] == ""
    assert body["text"] == "The secret word is AUBERGINE.\nSecond line.\n"
    assert body["chars"] == len(body["text"])
    # No model named: the 4-characters-a-token estimate, and it says so.
    assert body["tokens"] == -(-len(body["text"]) // 4) and body["tokens_estimated"] is True

    markdown = extract(api, "README.md", "\ufeff# Title\n\nSome *text* — ünïcödé.\n".encode())
    assert markdown.status_code == 200
    assert markdown.json()["kind"] == "markdown"
    assert markdown.json()["text"].startswith("# Title")  # the byte-order mark is gone

    code = extract(api, "main.py", b"def answer() -> int:\n    return 42\n")
    assert code.status_code == 200
    assert (code.json()["kind"], code.json()["language"]) == ("code", "python")

    utf16 = extract(api, "win.txt", "Grüße aus UTF-16".encode("utf-16"))
    assert utf16.status_code == 200 and utf16.json()["text"] == "Grüße aus UTF-16"
    assert home_files(api) == before  # nothing of a document lands on disk


def test_multipart_upload_and_a_path_in_the_name(api: Api) -> None:  # noqa: F811
    before = home_files(api)
    reply = api.post(
        "/documents/extract",
        files={"file": ("../../etc/passwd", b"root:x:0:0\n" * 100_000, "text/plain")},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["name"] == "passwd"  # folders cut: shown, never a path
    assert reply.json()["text"].count("root:x") == 100_000
    windows = extract(api, "C:\\Users\\me\\report.md", b"# hi\n")
    assert windows.json()["name"] == "report.md"
    empty = extract(api, "..", b"text")
    assert empty.json()["name"] == "document"
    assert home_files(api) == before
    no_field = api.post("/documents/extract", files={"other": ("a.txt", b"x")})
    assert no_field.status_code == 400 and '"file"' in no_field.json()["error"]


def test_a_real_pdf(api: Api) -> None:  # noqa: F811
    data = pdf_bytes(["The secret word is AUBERGINE.", "Page two says PAPRIKA."], compress=True)
    reply = extract(api, "report.pdf", data)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["kind"] == "pdf" and body["pages"] == 2
    assert "AUBERGINE" in body["text"] and "PAPRIKA" in body["text"]
    assert body["text"].index("AUBERGINE") < body["text"].index("PAPRIKA")
    # A PDF is known by its bytes, whatever the name says.
    assert extract(api, "download", data).json()["kind"] == "pdf"


def test_malformed_pdfs_are_400_with_words(api: Api) -> None:  # noqa: F811
    good = pdf_bytes(["hello"])
    cases = {
        "cut.pdf": good[: len(good) // 3],
        "junk.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 40,
        "fake.pdf": b"this is not a pdf at all",
    }
    for name, data in cases.items():
        reply = extract(api, name, data)
        assert reply.status_code == 400, (name, reply.text)
        error = reply.json()["error"]
        assert name in error and ("PDF" in error or "text" in error), error
    fake = extract(api, "fake.pdf", b"this is not a pdf at all").json()["error"]
    assert "does not start with %PDF-" in fake
    scanned = extract(api, "scan.pdf", pdf_bytes([], raw_streams=[b"0 0 m 100 100 l S"]))
    assert scanned.status_code == 400 and "no text" in scanned.json()["error"]


def test_a_pdf_bomb_is_refused(api: Api) -> None:  # noqa: F811
    """100 MB of content stream in 100 KB of upload: pypdf's limit stops it, the answer says so."""
    bomb = pdf_bytes([], compress=True, raw_streams=[b"BT (x) Tj ET " + b" " * 100_000_000])
    assert len(bomb) < 200_000
    reply = extract(api, "bomb.pdf", bomb)
    assert reply.status_code == 413, reply.text
    assert reply.json()["error"].startswith("bomb.pdf holds a part that unpacks to more than")


def test_too_big_is_413(api: Api) -> None:  # noqa: F811
    huge = b"a" * (documents.MAX_UPLOAD_BYTES + 1)
    reply = extract(api, "huge.txt", huge)
    assert reply.status_code == 413
    assert f"{documents.MAX_UPLOAD_BYTES // 2**20} MiB" in reply.json()["error"]
    form = api.post("/documents/extract", files={"file": ("huge.txt", huge)})
    assert form.status_code == 413
    long_text = b"word " * (documents.MAX_TEXT_CHARS // 5 + 1)
    too_long = extract(api, "long.txt", long_text)
    assert too_long.status_code == 413
    assert "more than any model's context" in too_long.json()["error"]


def test_binary_is_415(api: Api) -> None:  # noqa: F811
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)
    reply = extract(api, "photo.png", png)
    assert reply.status_code == 415
    assert reply.json()["error"] == (
        "photo.png is an image: Hearth can attach text, Markdown, code and PDF files"
    )
    unknown = extract(api, "data.bin", bytes(range(256)))
    assert unknown.status_code == 415 and "binary data" in unknown.json()["error"]
    latin1 = extract(api, "old.txt", "café".encode("latin-1"))
    assert latin1.status_code == 415 and "not UTF-8 text" in latin1.json()["error"]
    assert extract(api, "empty.txt", b"").status_code == 400


def test_tokens_counted_by_the_loaded_model(hearth: HearthProcess) -> None:
    """With the chat's model loaded, llama-server's /tokenize counts; unloaded, an estimate."""
    text = "The secret word is AUBERGINE. " * 50
    url = f"{hearth.url}/api/v1/documents/extract"
    params = {"name": "notes.txt", "model": GEMMA_NAME}
    requests.post(
        f"{hearth.ollama_url}/api/generate",
        json={"model": GEMMA_NAME, "prompt": "hi", "stream": False, "options": {"num_predict": 1}},
        timeout=300,
    ).raise_for_status()
    counted = requests.post(url, params=params, data=text.encode(), timeout=60).json()
    assert counted["tokens_estimated"] is False
    # Gemma's tokenizer: a repeated English sentence is far fewer tokens than characters.
    assert 50 <= counted["tokens"] < len(text) // 2
    assert counted["tokens"] != documents.estimate_tokens(text)
    unknown = requests.post(url, params={**params, "model": "nope:1b"}, data=b"x", timeout=60)
    assert unknown.status_code == 200 and unknown.json()["tokens_estimated"] is True


def test_pdf_helper_makes_what_pypdf_reads(tmp_path: Path) -> None:
    """The hand-written PDF is a real one: pypdf reads its pages without complaint."""
    from pypdf import PdfReader

    path = tmp_path / "a.pdf"
    path.write_bytes(pdf_bytes(["one", "two", "three"]))
    reader = PdfReader(path, strict=True)
    assert [page.extract_text() for page in reader.pages] == ["one", "two", "three"]

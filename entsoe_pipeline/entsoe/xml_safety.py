"""Reading untrusted response bodies: size limits, ZIP members, and an XML parser that expands nothing.

Every refusal is a MalformedDocument whose message names the request (``where``) and the reason.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib

from lxml import etree

from .errors import MalformedDocument

# Largest body (or sum of inflated ZIP members) the parser accepts. The biggest answers in scope
# are a few MB (one year of A69 for BE: 3.3 MB); 64 MiB leaves room without inviting memory abuse.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
# ENTSO-E zips hold one XML per document and cap an answer at a few hundred documents.
MAX_ZIP_MEMBERS = 10_000

ZIP_MAGIC = b"PK\x03\x04"

_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)

# No DTD loading, no entity expansion, no network, libxml2's default size limits (huge_tree=False).
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    collect_ids=False,
)


def is_zip(content: bytes) -> bool:
    return content[:4] == ZIP_MAGIC


def check_size(content: bytes, where: str, max_bytes: int) -> None:
    if len(content) > max_bytes:
        raise MalformedDocument(
            f"{where}: body of {len(content)} bytes exceeds the limit of {max_bytes} bytes"
        )


def parse_xml(content: bytes, where: str, max_bytes: int = MAX_DOCUMENT_BYTES) -> etree._Element:
    """The root element of ``content``; refuses oversize bodies, malformed XML and any DOCTYPE."""
    check_size(content, where, max_bytes)
    _refuse_doctype(content, where)
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno, 0)
        raise MalformedDocument(
            f"{where}: malformed XML at line {line}, column {column}: {exc.msg}"
        ) from None
    except ValueError as exc:  # e.g. an unsupported encoding declaration
        raise MalformedDocument(f"{where}: unreadable XML: {exc}") from None
    if root is None:
        raise MalformedDocument(f"{where}: the body holds no XML element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # a DOCTYPE the byte scan missed (UTF-16)
        raise MalformedDocument(
            f"{where}: DTD/entities are not allowed (document declares {docinfo.doctype!r})"
        )
    return root


def _refuse_doctype(content: bytes, where: str) -> None:
    """Refuse a DOCTYPE before libxml2 reads its entity declarations (the billion-laughs shape).

    ENTSO-E never sends one. A DOCTYPE can only stand before the first element, so only the prolog
    is scanned.
    """
    first = _FIRST_ELEMENT.search(content)
    prolog_end = first.start() if first else len(content)
    if _DOCTYPE.search(content, 0, prolog_end):
        raise MalformedDocument(f"{where}: DTD/entities are not allowed (the document has a DOCTYPE)")


def unzip_members(content: bytes, where: str, max_bytes: int = MAX_DOCUMENT_BYTES) -> list[tuple[str, bytes]]:
    """(name, bytes) of each file in a ZIP body, refusing archives that inflate beyond ``max_bytes``.

    Declared sizes are checked first, then every member is read with a cap, because declared sizes
    are written by the sender and can lie.
    """
    check_size(content, where, max_bytes)
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            if len(members) > MAX_ZIP_MEMBERS:
                raise MalformedDocument(
                    f"{where}: ZIP holds {len(members)} files, more than {MAX_ZIP_MEMBERS}"
                )
            declared = sum(info.file_size for info in members)
            if declared > max_bytes:
                raise MalformedDocument(
                    f"{where}: ZIP members declare {declared} bytes inflated, more than the limit of "
                    f"{max_bytes} bytes"
                )
            out: list[tuple[str, bytes]] = []
            total = 0
            for info in members:
                with archive.open(info) as member:
                    data = member.read(max_bytes - total + 1)
                total += len(data)
                if total > max_bytes:
                    raise MalformedDocument(
                        f"{where}: ZIP member {info.filename!r} inflates beyond the limit of "
                        f"{max_bytes} bytes"
                    )
                out.append((info.filename, data))
            return out
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
        raise MalformedDocument(f"{where}: unreadable ZIP body: {exc}") from None

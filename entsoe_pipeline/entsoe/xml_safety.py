"""Reading untrusted response bodies: size limits, ZIP members, and an XML parser that expands nothing.

Every refusal is a MalformedDocument whose message names the request (``where``) and the reason.

libxml2 acts on a DTD while it parses (it expands entities and reads external parameter entities
from local files such as /dev/zero or a FIFO) before any check of the tree can run, and ENTSO-E
never sends one. So a body whose text holds ``<!DOCTYPE`` or ``<!ENTITY`` anywhere is refused
first, and libxml2 reads exactly the text that was scanned: UTF-8 as it is (one regex search over
the bytes); UTF-16, UTF-32, ISO-8859-1 and windows-1252 decoded and handed over as UTF-8, with the
parser's encoding fixed so that no declaration or byte order mark changes the reading. Other
encodings are refused (UTF-7 writes "<" as "+ADw-"; some codecs do not decode in linear time).
Behind that, the resolver loads nothing and the parsed tree must carry no DTD.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
import zlib
from typing import NoReturn

from lxml import etree

from .errors import MalformedDocument

# Largest body (or sum of inflated ZIP members) the parser accepts. The biggest answers in scope
# are a few MB (one year of A69 for BE: 3.3 MB); 64 MiB leaves room without inviting memory abuse.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
# ENTSO-E zips hold one XML per document and cap an answer at a few hundred documents.
MAX_ZIP_MEMBERS = 10_000

ZIP_MAGIC = b"PK\x03\x04"

# Markup that only a DTD has; refused anywhere in the text (in a comment too: ENTSO-E never sends it).
_DTD_BYTES = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DTD_TEXT = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)

# Byte order marks; UTF-32 first, as its little-endian mark starts like UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF16_LE, "utf-16"),
)
# "<" or "<?" without a mark (XML 1.0 appendix F). Other bodies are read as UTF-8, where a NUL byte
# is malformed.
_UNMARKED = {
    b"\x00\x00\x00<": "utf-32-be",
    b"<\x00\x00\x00": "utf-32-le",
    b"\x00<\x00?": "utf-16-be",
    b"<\x00?\x00": "utf-16-le",
}
_DECLARED = re.compile(
    rb"\A(?:\xef\xbb\xbf)?<\?xml\s[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z][\w.-]{0,39})[\"']"
)
# Python codec names (codecs.lookup(...).name) of what is read besides UTF-8.
_UTF8 = frozenset({"utf-8", "ascii"})
_DECODED = frozenset({"utf-16", "utf-16-be", "utf-16-le", "utf-32", "utf-32-be", "utf-32-le"})
_SINGLE_BYTE = frozenset({"iso8859-1", "cp1252"})


class _NoEntities(etree.Resolver):
    """Loads nothing: libxml2 asks for external entities even with load_dtd=False. (An empty
    string, not resolve_empty(), which lets libxml2 fall back to reading the file.)"""

    def resolve(self, system_url, public_id, context):
        return self.resolve_string("", context)


# No DTD loading, no entity expansion, no network, libxml2's default size limits (huge_tree=False);
# the encoding is fixed because parse_xml hands over UTF-8 only.
_PARSER = etree.XMLParser(
    encoding="utf-8",
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    collect_ids=False,
)
_PARSER.resolvers.add(_NoEntities())


def is_zip(content: bytes) -> bool:
    return content[:4] == ZIP_MAGIC


def check_size(content: bytes, where: str, max_bytes: int) -> None:
    if len(content) > max_bytes:
        raise MalformedDocument(
            f"{where}: body of {len(content)} bytes exceeds the limit of {max_bytes} bytes"
        )


def parse_xml(content: bytes, where: str, max_bytes: int = MAX_DOCUMENT_BYTES) -> etree._Element:
    """The root element of ``content``; refuses oversize bodies, malformed XML and any DTD."""
    check_size(content, where, max_bytes)
    content = _scanned_utf8(content, where)
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno, 0)
        raise MalformedDocument(
            f"{where}: malformed XML at line {line}, column {column}: {exc.msg}"
        ) from None
    except ValueError as exc:
        raise MalformedDocument(f"{where}: unreadable XML: {exc}") from None
    if root is None:
        raise MalformedDocument(f"{where}: the body holds no XML element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # the scan should make this unreachable
        raise MalformedDocument(
            f"{where}: DTD/entities are not allowed (document declares {docinfo.doctype!r})"
        )
    return root


def _scanned_utf8(content: bytes, where: str) -> bytes:
    """``content`` as UTF-8 for the parser, once its text is known to hold no DTD markup."""
    encoding = _encoding(content, where)
    if encoding == "utf-8":
        found = _DTD_BYTES.search(content)
        if found:
            _refuse_dtd(found.group().decode("ascii"), content.count(b"\n", 0, found.start()) + 1, where)
        return content
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError as exc:
        raise MalformedDocument(
            f"{where}: unreadable XML: the body is not valid {encoding} (byte {exc.start})"
        ) from None
    found_text = _DTD_TEXT.search(text)
    if found_text:
        _refuse_dtd(found_text.group(), text.count("\n", 0, found_text.start()) + 1, where)
    return text.encode("utf-8")


def _encoding(content: bytes, where: str) -> str:
    """The Python codec that reads ``content``: its byte order mark, the layout of its first
    bytes, then its XML declaration; UTF-8 when none says otherwise."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name
    unmarked = _UNMARKED.get(content[:4])
    if unmarked:
        return unmarked
    declared = _DECLARED.match(content)
    if declared is None:
        return "utf-8"
    label = declared.group(1).decode("ascii")
    try:
        name = codecs.lookup(label).name
    except LookupError:
        name = ""
    if name in _UTF8 or name in _DECODED:  # a UTF-16/32 label on ASCII bytes: libxml2 reads UTF-8 too
        return "utf-8"
    if name in _SINGLE_BYTE:
        return name
    raise MalformedDocument(
        f"{where}: unreadable XML: encoding {label!r} is not supported "
        "(ENTSO-E sends UTF-8; UTF-16, UTF-32, ISO-8859-1 and windows-1252 are read too)"
    )


def _refuse_dtd(markup: str, line: int, where: str) -> NoReturn:
    raise MalformedDocument(
        f"{where}: DTD/entities are not allowed (the document has {markup} at line {line})"
    )


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

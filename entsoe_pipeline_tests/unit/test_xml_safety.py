"""entsoe_pipeline.entsoe.xml_safety: a body with a DTD is refused before libxml2 acts on it, however
the DTD is hidden (after a comment or processing instruction, in UTF-16 or UTF-32), and the parser
loads no external entity even if one reached it.

Payloads that make a parser block (a FIFO nobody writes) or read forever (/dev/zero) run in a
forked child with a time limit, so that a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import codecs
import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from entsoe_pipeline.entsoe import MalformedDocument, parse_document, xml_safety
from entsoe_pipeline.simulator import documents as simulated
from entsoe_pipeline_tests.fixtures.documents import fixture_bytes
from entsoe_pipeline_tests.unit.test_parser import SOURCE, gl, period, series

TIME_LIMIT = 5.0  # seconds; a refused body takes microseconds
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
ROOT = f'<GL_MarketDocument xmlns="{simulated.GL_NS}"><type>A65</type><mRID>&x;</mRID></GL_MarketDocument>'


def outcome_within(call: Callable[[], object], seconds: float = TIME_LIMIT) -> tuple[str, str]:
    """(exception class name, message) of ``call()`` in a forked child, ("", "") if it returned;
    fails the test if the child has not answered within ``seconds``."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def child() -> None:
        try:
            call()
            sender.send(("", ""))
        except BaseException as exc:
            sender.send((type(exc).__name__, str(exc)))

    process = context.Process(target=child, daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            pytest.fail(f"no answer within {seconds} s: the parser blocked or spun on the body")
        return receiver.recv()
    finally:
        process.kill()
        process.join(5)
        receiver.close()


def refused_within(body: bytes) -> str:
    """The message of the MalformedDocument that ``parse_document`` raises for ``body``, in time."""
    name, message = outcome_within(lambda: parse_document(body, source=SOURCE))
    assert name == MalformedDocument.__name__, f"expected a refusal, got {name or 'points'}: {message}"
    assert SOURCE in message
    return message


def doctype(subset: str) -> str:
    return f"<!DOCTYPE GL_MarketDocument [\n{subset}\n]>\n"


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """A FIFO nobody writes: opening it for reading blocks, so a parser that tries never returns."""
    path = tmp_path / "entity.fifo"
    os.mkfifo(path)
    return path


def external(path: Path | str) -> str:
    """An external parameter entity, referenced inside the internal subset (libxml2 loads those
    even with load_dtd=False)."""
    return doctype(f'<!ENTITY % ext SYSTEM "file://{path}">\n%ext;\n<!ENTITY x "x">')


# --- where a DOCTYPE hid from a scan of the prolog up to the first element --------------------------


@pytest.mark.parametrize(
    "prolog",
    [
        pytest.param('<!-- see <a href="https://example.com/"> -->\n', id="comment holding <a"),
        pytest.param("<?note <a?>\n", id="processing instruction holding <a"),
        pytest.param("<?note <GL_MarketDocument>?>\n", id="processing instruction holding the root tag"),
    ],
)
def test_doctype_after_markup_that_looks_like_an_element_is_refused_before_parsing(prolog, fifo):
    body = (DECLARATION + prolog + external(fifo) + ROOT).encode()
    message = refused_within(body)
    assert "DTD/entities are not allowed (the document has <!DOCTYPE at line" in message


@pytest.mark.parametrize(
    ("codec", "mark", "label"),
    [
        pytest.param("utf-16-le", codecs.BOM_UTF16_LE, "UTF-16", id="UTF-16 LE with BOM"),
        pytest.param("utf-16-be", codecs.BOM_UTF16_BE, "UTF-16", id="UTF-16 BE with BOM"),
        pytest.param("utf-16-le", b"", "UTF-16", id="UTF-16 LE without BOM, declared"),
        pytest.param("utf-16-be", b"", "UTF-16BE", id="UTF-16 BE without BOM, declared"),
        pytest.param("utf-32-le", codecs.BOM_UTF32_LE, "UTF-32", id="UTF-32 LE with BOM"),
        pytest.param("utf-32-be", b"", "UTF-32", id="UTF-32 BE without BOM, declared"),
    ],
)
def test_doctype_in_a_wide_encoding_is_refused_before_parsing(codec, mark, label, fifo):
    text = DECLARATION.replace("UTF-8", label) + external(fifo) + ROOT
    message = refused_within(mark + text.encode(codec))
    assert "DTD/entities are not allowed (the document has <!DOCTYPE at line 2)" in message


def test_doctype_in_an_encoding_the_parser_does_not_read_is_refused_for_its_encoding(fifo):
    # UTF-7 spells "<" as "+ADw-": a byte scan for "<!DOCTYPE" finds nothing.
    text = '<?xml version="1.0" encoding="UTF-7"?>\n' + external(fifo) + ROOT
    message = refused_within(text.encode("utf-7"))
    assert "encoding 'UTF-7' is not supported" in message


# --- what a DTD would do: read local files, expand entities --------------------------------------


def test_external_parameter_entity_at_a_fifo_is_refused_without_opening_it(fifo):
    message = refused_within((DECLARATION + external(fifo) + ROOT).encode())
    assert "DTD/entities are not allowed" in message


def test_external_parameter_entity_at_dev_zero_is_refused_without_reading_it():
    message = refused_within((DECLARATION + external("/dev/zero") + ROOT).encode())
    assert "DTD/entities are not allowed" in message


def test_external_entity_at_a_local_file_does_not_leak_its_content(tmp_path):
    secret = tmp_path / "secret.dtd"
    secret.write_text('<!ENTITY x "TOP-SECRET">')
    message = refused_within((DECLARATION + external(secret) + ROOT).encode())
    assert "TOP-SECRET" not in message


def test_billion_laughs_after_a_comment_is_refused_before_expansion():
    previous = ["lol", *(f"lol{i}" for i in range(1, 9))]
    laughs = '<!ENTITY lol "lol">\n' + "\n".join(
        f'<!ENTITY lol{i} "{f"&{previous[i - 1]};" * 10}">' for i in range(1, 10)
    )
    body = (DECLARATION + "<!-- <a -->\n" + doctype(laughs + '\n<!ENTITY x "&lol9;">') + ROOT).encode()
    message = refused_within(body)
    assert "DTD/entities are not allowed (the document has <!DOCTYPE at line 3)" in message


def test_internal_entity_in_an_internal_subset_is_refused():
    body = (DECLARATION + doctype('<!ENTITY x "forged">') + ROOT).encode()
    with pytest.raises(MalformedDocument, match=f"{SOURCE}: DTD/entities are not allowed") as caught:
        parse_document(body, source=SOURCE)
    assert "forged" not in str(caught.value)


def test_entity_declaration_without_doctype_is_refused_even_in_a_comment():
    body = (DECLARATION + '<!-- <!ENTITY x "y"> -->\n').encode() + gl()
    with pytest.raises(MalformedDocument, match="the document has <!ENTITY at line 2"):
        parse_document(body, source=SOURCE)


# --- the second line: the parser itself loads nothing -----------------------------------------------


@pytest.mark.parametrize("target", ["fifo", "/dev/zero"])
def test_the_parser_loads_no_external_entity_even_if_a_dtd_reached_it(target, fifo):
    path = fifo if target == "fifo" else target
    body = (DECLARATION + external(path) + ROOT).encode()
    name, message = outcome_within(lambda: etree.fromstring(body, xml_safety._PARSER))
    assert name in ("", "XMLSyntaxError"), message


# --- encodings and speed --------------------------------------------------------------------------


def test_a_64_mib_body_is_scanned_in_linear_time():
    padding = b" " * (xml_safety.MAX_DOCUMENT_BYTES - 200)
    body = DECLARATION.encode() + b"<GL_MarketDocument>" + padding + b"<!DOCTYPE x>"
    assert len(body) <= xml_safety.MAX_DOCUMENT_BYTES
    started = time.perf_counter()
    with pytest.raises(MalformedDocument, match="the document has <!DOCTYPE at line 2"):
        parse_document(body, source=SOURCE)
    assert time.perf_counter() - started < 2.0


def test_invalid_utf16_is_malformed_naming_the_encoding():
    body = codecs.BOM_UTF16_LE + "<a>".encode("utf-16-le") + b"\x00\xd8"  # a lone high surrogate
    with pytest.raises(MalformedDocument, match=f"{SOURCE}: unreadable XML: the body is not valid utf-16"):
        parse_document(body, source=SOURCE)


# --- what ENTSO-E sends still parses ----------------------------------------------------------------

FIXTURES = [
    "gen_actual_A75-A16_SE4_20251020_PT60M_A03_em.xml",
    "price_A44_FR_20230507_PT60M_A01_ns70_em.xml",
    "load_yearahead_A65-A33_CZ_2015-2016_P7D_pj.xml",
]


@pytest.mark.parametrize("name", FIXTURES)
def test_real_documents_parse_as_before_in_every_encoding_that_is_read(name):
    body = fixture_bytes(name)
    reference = parse_document(body)
    assert len(reference) > 0
    text = body.decode("utf-8")
    for codec, label in [("utf-16", "UTF-16"), ("utf-32-be", "UTF-32"), ("iso-8859-1", "ISO-8859-1")]:
        again = parse_document(text.replace("UTF-8", label).replace("utf-8", label).encode(codec))
        assert again.equals(reference), codec


def test_a_simulated_document_parses_with_and_without_a_utf8_byte_order_mark():
    body = gl(series(period("2024-01-01T00:00Z", "2024-01-01T02:00Z", "PT60M", {1: 1, 2: 2})))
    assert parse_document(codecs.BOM_UTF8 + body).equals(parse_document(body))
    assert parse_document(body).value.tolist() == [1.0, 2.0]

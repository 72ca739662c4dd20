"""Parser speed: entsoe_pipeline.entsoe.parse_document against two baselines measured in the same run.

Baselines, on the same bytes:
* entsoe-py 0.8.1's parsers (parse_loads / parse_generation / parse_prices), the library most
  projects use; target: parse_document at least 40x its points per second;
* a bare lxml walk: ``etree.fromstring`` then ``float(el.text)`` for every quantity/price.amount,
  the floor any lxml-based parser pays; target: at least 0.5x its points per second.

Documents: large synthetic answers in the real schema (benchmarks/_documents.py) and the real
fixtures in ../shared/fixtures/entsoe when present. "Points" are the rows parse_document returns
(A03 curves expanded), so every ratio is a ratio of times on the same documents. Times are the
best of N runs; results are freed outside the timed region.

Last two lines of output (parsed by tooling):
    parse_vs_entsoe_py: X
    parse_vs_lxml_walk: X
where X = (total points / total time of parse_document) / (same for the baseline).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script by scripts/bench.sh

from benchmarks._documents import SYNTHETIC
from entsoe_pipeline.entsoe import EntsoeError, parse_document

FIXTURE_DIR = Path(
    os.environ.get(
        "ENTSOE_FIXTURE_DIR", Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "entsoe"
    )
)


@dataclass
class Document:
    name: str
    body: bytes
    kind: str  # "load", "generation" or "prices": which entsoe-py parser applies
    process_type: str | None
    points: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def lxml_walk(body: bytes) -> int:
    root = etree.fromstring(body)
    n = 0
    for element in root.iter("{*}quantity", "{*}price.amount"):
        float(element.text or "nan")
        n += 1
    return n


def entsoe_py(document: Document) -> Callable[[], object]:
    from entsoe import parsers  # the bench extra; imported here so the module loads without it

    text = document.body.decode("utf-8")
    if document.kind == "prices":
        return lambda: parsers.parse_prices(text)
    if document.kind == "generation":
        return lambda: parsers.parse_generation(text)
    process = document.process_type if document.process_type in ("A01", "A16") else "A31"
    return lambda: parsers.parse_loads(text, process_type=process)


def best_of(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - start
        del result  # freeing the answer is the caller's business, not the parser's
        best = min(best, elapsed)
    return best


def fixtures() -> list[Document]:
    if not FIXTURE_DIR.is_dir():
        print(f"(fixtures not found at {FIXTURE_DIR}: synthetic documents only)")
        return []
    out = []
    for path in sorted(FIXTURE_DIR.glob("*.xml")):
        kind = {"price": "prices", "gen": "generation", "load": "load"}.get(path.name.split("_")[0])
        if kind is None:  # acknowledgements hold no points
            continue
        process = path.name.split("_")[2].split("-")[-1] if kind == "load" else None
        out.append(Document(f"fixture {path.name}", path.read_bytes(), kind, process))
    return out


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--repeat", type=int, default=7, help="runs per parse_document/lxml timing")
    options.add_argument("--repeat-entsoe-py", type=int, default=2, help="runs per entsoe-py timing (slow)")
    options.add_argument("--no-entsoe-py", action="store_true", help="skip the entsoe-py baseline")
    args = options.parse_args()

    documents = [Document(name, build(), kind, process) for name, (build, kind, process) in SYNTHETIC.items()]
    documents += fixtures()
    warnings.filterwarnings("ignore")  # entsoe-py's BeautifulSoup and pandas warnings
    print(f"{'document':58} {'points':>7} {'parse_document':>15} {'lxml walk':>12} {'entsoe-py':>12}")
    for doc in documents:
        try:
            doc.points = len(parse_document(doc.body, source=doc.name))
        except EntsoeError as exc:  # an acknowledgement fixture: an answer without points
            print(f"{doc.name[:58]:58} refused: {str(exc)[:80]}")
            continue
        doc.seconds["parse"] = best_of(partial(parse_document, doc.body, source=doc.name), args.repeat)
        doc.seconds["lxml"] = best_of(partial(lxml_walk, doc.body), args.repeat)
        if not args.no_entsoe_py:
            try:
                doc.seconds["entsoe_py"] = best_of(entsoe_py(doc), args.repeat_entsoe_py)
            except Exception as exc:  # entsoe-py cannot read every document (e.g. P1Y margins)
                print(f"  (entsoe-py failed on {doc.name}: {type(exc).__name__})")
        rates = [_rate(doc, k) for k in ("parse", "lxml", "entsoe_py")]
        print(f"{doc.name[:58]:58} {doc.points:>7} {rates[0]:>15} {rates[1]:>12} {rates[2]:>12}")
    print("(points/s: rows returned by parse_document per second of each parser, best of N runs)\n")

    ratios = {}
    for baseline in ("entsoe_py", "lxml"):
        both = [d for d in documents if baseline in d.seconds]
        if not both:  # --no-entsoe-py
            ratios[baseline] = float("nan")
            print(f"{baseline}: not measured")
            continue
        points = sum(d.points for d in both)
        ours, theirs = (sum(d.seconds[k] for d in both) for k in ("parse", baseline))
        ratios[baseline] = theirs / ours if ours else float("nan")
        print(
            f"{baseline}: {len(both)} documents, {points:,} points; parse_document "
            f"{points / ours:,.0f} points/s, {baseline} {points / theirs:,.0f} points/s"
        )
    print(f"parse_vs_entsoe_py: {ratios['entsoe_py']:.2f}")
    print(f"parse_vs_lxml_walk: {ratios['lxml']:.2f}")


def _rate(doc: Document, key: str) -> str:
    return f"{doc.points / doc.seconds[key]:,.0f}" if key in doc.seconds else "-"


if __name__ == "__main__":
    main()

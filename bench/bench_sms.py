"""SMS as written: the share of the corpus' messages misread, beside the 3% target.

The corpus (tests/data/sms_corpus.jsonl, synthetic, written for the tests) has a tuning part and
a held-out part written before the parser was tuned; both rates are printed. A misread is a
wrong type, a place more than 10 km off (or invented, or missed) or a wrong count of killed,
injured or abducted (incidents.intake.sms_eval).
"""

from __future__ import annotations

import time
from typing import Any

from bench import harness
from bench.harness import Row, record
from incidents.intake.sms_eval import MISREAD_TARGET, describe, load_corpus, score_corpus

CORPUS = harness.ROOT / "tests" / "data" / "sms_corpus.jsonl"


def run(results: dict[str, Any], *, quick: bool = False) -> list[Row]:
    messages = load_corpus(CORPUS)
    started = time.perf_counter()
    score = score_corpus(messages)
    elapsed = time.perf_counter() - started
    target = MISREAD_TARGET * 100
    rows: list[Row] = []
    for split, label in ((None, "all"), ("tuning", "tuning part"), ("heldout", "held-out part")):
        part = score.part(split)
        rows.append(
            record(
                results,
                f"sms: misread rate, {label} ({len(part)} messages)",
                score.misread_rate(split) * 100,
                "%",
                reference=target,
                digits=1,
                target="≤ 1.00",
            )
        )
    rows.append(
        record(
            results,
            "sms: wrong perpetrator among those stated",
            score.rate_of("perpetrator_ok") * 100,
            "%",
            digits=1,
        )
    )
    rows.append(
        record(
            results,
            "sms: wrong day or hour among those stated",
            score.rate_of("time_ok") * 100,
            "%",
            digits=1,
        )
    )
    rows.append(
        record(
            results, "sms: parse time per message", elapsed / len(messages) * 1000, "ms", digits=2
        )
    )
    harness.note(
        f"Corpus {CORPUS.relative_to(harness.ROOT)}: {len(messages)} synthetic messages "
        f"({len(score.part('heldout'))} held out, written before tuning); reference = the "
        f"{target:.0f}% target, ratio = rate / target."
    )
    for line in describe(score.misreads())[:20]:
        harness.note(f"misread {line}")
    return rows

"""One scrape shows the whole node: its read workers' metrics on the node's `/metrics`.

A node with read workers (ADR 0021) answers signed reports in several processes, each with its
own request counters, latency histograms, signature and cache counters and CPU. `/metrics` is
always answered by the node's process (a worker forwards the scrape to it), which asks every
connected worker for its metric families over the writer link (`WriterMethod.METRICS`,
`WriterLinkServer.ask_workers`) and adds their samples, each labelled `worker="<index>"`, to
its own families of the same name; the process's own samples carry no `worker` label. So
`sum(yrd_api_requests_total)` counts the node's signed reads whichever process answered them,
and `sum by (worker)` shows each worker's share. No label names a querier or an enterprise:
the labels are the ones the node's own families have (route, outcome, method, code) and
`worker`.

`worker_families` is what a worker reports; `encode_families` / `decode_families` carry metric
families across the link as JSON; `merge_families` joins families of the same name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from chain.query.consent import ConsentBook
from chain.query.replay import RequestVerifier
from nodes.api.metrics import Metric, RequestMetrics, process_metrics, request_metrics
from nodes.query.payloads import PayloadFetcher
from nodes.runtime.histogram import Histogram

WORKER_LABEL = "worker"
PROCESS_FAMILIES = ("process_cpu_seconds_total", "process_resident_memory_bytes",
                    "process_open_fds", "process_start_time_seconds")


def worker_families(index: int, requests: RequestMetrics, verifier: RequestVerifier,
                    consent: ConsentBook, payloads: PayloadFetcher) -> list[Metric]:
    """A worker's metric families, every sample labelled with its index."""

    def one(name: str, text: str, value: float) -> Metric:
        return Metric(name, "counter", text, (({}, value),))

    families = [
        *request_metrics(requests),
        one("yrd_query_signature_verifications_total",
            "Signed API requests whose signature was recovered.", verifier.verifications),
        one("yrd_consent_contract_calls_total",
            "Authorization contract calls made for consent checks.", consent.calls),
        one("yrd_consent_cache_hits_total", "Consent checks answered from the cache.",
            consent.hits),
        one("yrd_payload_remote_fetches_total", "Payload requests to origin-city nodes.",
            payloads.remote_fetches),
        one("yrd_payload_tampered_total",
            "Payloads whose bytes did not match their on-chain hash.", payloads.tampered),
        *(metric for metric in process_metrics() if metric.name in PROCESS_FAMILIES),
    ]
    return labelled(families, {WORKER_LABEL: str(index)})


def labelled(families: Iterable[Metric], labels: dict[str, str]) -> list[Metric]:
    """The families with `labels` added to every sample."""
    return [Metric(family.name, family.kind, family.help,
                   tuple(({**sample_labels, **labels}, value)
                         for sample_labels, value in family.samples))
            for family in families]


def merge_families(*groups: Iterable[Metric]) -> list[Metric]:
    """One family per name, in first-seen order, holding the samples of every group (the
    first group's help and type win)."""
    merged: dict[str, Metric] = {}
    for group in groups:
        for family in group:
            known = merged.get(family.name)
            merged[family.name] = family if known is None else Metric(
                known.name, known.kind, known.help, known.samples + family.samples)
    return list(merged.values())


def encode_families(families: Iterable[Metric]) -> bytes:
    """Metric families as JSON, for the writer link."""
    return orjson.dumps([{"name": family.name, "kind": family.kind, "help": family.help,
                          "samples": [[dict(labels), _encode_value(value)]
                                      for labels, value in family.samples]}
                         for family in families])


def decode_families(body: bytes) -> list[Metric]:
    """The families `encode_families` wrote (ValueError for anything else)."""
    try:
        document = orjson.loads(body)
        return [Metric(str(family["name"]), str(family["kind"]), str(family["help"]),
                       tuple(({str(k): str(v) for k, v in labels.items()},
                              _decode_value(family["kind"], value))
                             for labels, value in family["samples"]))
                for family in document]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"not a worker's metric families: {error}") from error


def _encode_value(value: Any) -> Any:
    if isinstance(value, Histogram):
        return {"bounds": value.bounds_s, "counts": value.counts, "sum": value.total_s,
                "observations": value.observations}
    return float(value)


def _decode_value(kind: str, value: Any) -> Any:
    if kind != "histogram":
        return float(value)
    histogram = Histogram(tuple(float(b) for b in value["bounds"]),
                          [int(c) for c in value["counts"]], float(value["sum"]),
                          int(value["observations"]))
    if len(histogram.counts) != len(histogram.bounds_s) + 1:
        raise TypeError("a histogram's counts do not match its bounds")
    return histogram

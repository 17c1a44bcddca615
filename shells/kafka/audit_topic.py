"""`recon audit verify-kafka`: each ledger partition's audit chain on the audit topic, checked as a file's is
(audit_verify.py), and anchored by the head the same transactions wrote to the state changelog: a chain
cut short, or rewritten from the start with another key, no longer ends where the changelog says."""

from __future__ import annotations

import orjson
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from ..audit import AuditKey
from ..audit_verify import AuditVerdict, verify_lines
from . import clients
from .consumed import partition_of
from .partition import AUDIT_HEAD, AUDIT_TABLE
from .tail import committed_messages
from .topics import Topics

_HEAD_KEY = AUDIT_TABLE.encode() + b"\x00" + AUDIT_HEAD.encode()  # tables/rocks.py's key layout


def read_partitions(bootstrap: str, topic: str, timeout: float = 30.0) -> dict[int, list[tuple[bytes, bytes]]]:
    """Every committed (key, value) of every partition of `topic`, in offset order, up to its end now."""
    metadata = AdminClient(clients.config(bootstrap)).list_topics(topic, timeout=timeout).topics[topic]
    if metadata.error is not None:
        raise KafkaException(metadata.error)
    found: dict[int, list[tuple[bytes, bytes]]] = {number: [] for number in sorted(metadata.partitions)}
    for message in committed_messages(bootstrap, topic, to_end=True):
        found[partition_of(message)].append((message.key() or b"", message.value() or b""))
    return found


def verify_topic(bootstrap: str, topics: Topics, key: AuditKey | None) -> dict[int, AuditVerdict]:
    """A verdict per ledger partition."""
    chains = read_partitions(bootstrap, topics.audit)
    anchors = {
        number: orjson.loads(value) if value else None
        for number, changes in read_partitions(bootstrap, topics.changelog).items()
        for change_key, value in changes
        if change_key == _HEAD_KEY
    }
    verdicts = {}
    for number, messages in sorted(chains.items()):
        verdict, heads = verify_lines((value + b"\n" for _, value in messages), key)
        anchor, ends = anchors.get(number), (verdict.checked, heads.get(verdict.checked))
        if anchor is None:
            if verdict.checked and verdict.problem is None:
                verdict.problem = "the changelog holds no audit head for this partition: the chain is not the worker's"
        elif verdict.problem is None and (anchor["seq"], anchor["head"]) != ends:
            verdict.problem = (
                f"the chain ends at record {verdict.checked:,}, but the changelog's head is record {anchor['seq']:,} "
                f"({anchor['head'][:12]}...): cut off or rewritten"
            )
        else:
            verdict.anchors_checked = 1
        verdicts[number] = verdict
    return verdicts

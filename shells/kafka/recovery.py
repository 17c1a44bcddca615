"""What a worker does when the cluster fails it: which errors it recovers from, how long it waits between
attempts, and when it stops trying.

A broker restart fences a static group member (its rejoin races the old member id: FENCED_INSTANCE_ID, a
fatal consumer error), can leave the transactional producer with an epoch the coordinator no longer knows,
and times out whatever was in flight. None of that is lost data: the worker's state and input offsets
move only in committed transactions. So it recovers the way a restarted process would: drop what is not
committed, make new clients (the same transactional.id fences any zombie), rejoin, restore, go on. What it
never retries is a refusal that will not change by itself: credentials, authorisation, configuration.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from reconstream.models.errors import ReconError
from tenacity import RetryCallState, wait_random_exponential

# What a broker answers about a partition it is named leader of but has not taken on yet (or has no
# high watermark for yet): the metadata it serves runs ahead of its replica manager. A new topic's
# partitions answer so for a moment, and every partition of a broker that has just restarted.
NOT_SERVING = frozenset(
    {
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.REPLICA_NOT_AVAILABLE,
        KafkaError.FENCED_LEADER_EPOCH,
        KafkaError.UNKNOWN_LEADER_EPOCH,
        KafkaError.OFFSET_NOT_AVAILABLE,
    }
)
# The group, the transaction coordinator or the partition leaders moved on without this worker, or the
# broker was away: new clients under the same ids get everything back.
RECOVERABLE = NOT_SERVING | frozenset(
    {
        KafkaError._FATAL,  # what consume() returns once the consumer is fenced
        KafkaError._FENCED,
        KafkaError.FENCED_INSTANCE_ID,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError._MAX_POLL_EXCEEDED,
        KafkaError._ASSIGNMENT_LOST,
        KafkaError.INVALID_PRODUCER_EPOCH,
        KafkaError.PRODUCER_FENCED,
        KafkaError.UNKNOWN_PRODUCER_ID,
        KafkaError.INVALID_PRODUCER_ID_MAPPING,
        KafkaError.TRANSACTION_COORDINATOR_FENCED,
        KafkaError.INVALID_TXN_STATE,
        KafkaError.CONCURRENT_TRANSACTIONS,
        KafkaError._STATE,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._RESOLVE,
        KafkaError._TIMED_OUT,
        KafkaError._TIMED_OUT_QUEUE,
        KafkaError._MSG_TIMED_OUT,
        KafkaError._PURGE_QUEUE,
        KafkaError._PURGE_INFLIGHT,
        KafkaError._WAIT_COORD,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.BROKER_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.UNSTABLE_OFFSET_COMMIT,
    }
)
# Refusals that waiting does not change: exiting at once says so, where retrying would only hide them.
NEVER = frozenset(
    {
        KafkaError._AUTHENTICATION,
        KafkaError.SASL_AUTHENTICATION_FAILED,
        KafkaError.UNSUPPORTED_SASL_MECHANISM,
        KafkaError.ILLEGAL_SASL_STATE,
        KafkaError._SSL,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        KafkaError._INVALID_ARG,
        KafkaError.INVALID_CONFIG,
    }
)
# Consumer errors librdkafka reports and then recovers from by itself (a dropped connection, a broker
# away for a moment): logged, not acted on. Fatal ones are never in here.
PASSING = frozenset({KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE, KafkaError._TIMED_OUT})


class BrokerUnavailable(ReconError, RuntimeError):
    """The cluster did not do in time what the worker waits for (a restore, a transaction to close)."""


class StuckCall(BrokerUnavailable):
    """A librdkafka call that did not return in its time: the client it was made on must not be used again."""


class AssignmentLost(ReconError, RuntimeError):
    """The group took this worker's partitions while it was cut off: what it applied since its last
    commit may no longer be committed by it."""


class WorkerGaveUp(ReconError, RuntimeError):
    """The cluster has not served this worker for longer than it may wait: an operator is needed."""


class ClusterRefused(ReconError, RuntimeError):
    """The cluster refused the worker's credentials before it ever connected: a configuration to fix, not an
    outage to wait out. (Once connected, a refusal is retried like an outage: a broker that restarts may
    refuse a moment before it has loaded its credentials.)"""


def bounded(what: str, seconds: float, call: Callable[[], None]) -> None:
    """Make `call` from a thread of its own and wait `seconds` at most; StuckCall if it has not returned.

    librdkafka does not check the timeout of send_offsets_to_transaction (librdkafka#5456): after a broker
    restart it can wait for a group coordinator it cached before (librdkafka#5511) until some connection
    of the client changes state, minutes later or never. Its thread is left waiting, a daemon that holds
    the client, which is never destroyed under a call still inside it.
    """
    failure: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target, name=what, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise StuckCall(f"{what} did not return in {seconds:.0f} s")
    if failure:
        raise failure[0]


def error_of(exc: BaseException) -> KafkaError | None:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def recoverable(exc: BaseException) -> bool:
    """Whether new clients and a restore from the last commit can get past `exc`."""
    if isinstance(exc, BrokerUnavailable | AssignmentLost):
        return True
    error = error_of(exc)
    if error is None or error.code() in NEVER:
        return False
    return error.fatal() or error.retriable() or error.txn_requires_abort() or error.code() in RECOVERABLE


def passing(error: KafkaError) -> bool:
    """A consumer error librdkafka recovers from on its own."""
    return not error.fatal() and error.code() in PASSING


@dataclass
class Outage:
    """Failures in a row: how long to wait before the next attempt, and whether to try again at all.

    The clock runs from the first failure since the cluster last answered (`answered`); a worker gives up
    at the first failure after `limit` seconds of it. The backoff (tenacity's exponential with full jitter: several
    workers fenced by one restart do not rejoin in step) grows with every recovery until the worker makes
    progress again (`progressed`), so a cluster that answers and then fails at once is not hammered.
    """

    limit: float
    clock: Callable[[], float] = time.monotonic
    max_backoff: float = 30.0
    since: float | None = None
    attempts: int = 0
    _wait: Callable[[RetryCallState], float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._wait = wait_random_exponential(multiplier=0.5, max=self.max_backoff)

    def failed(self, exc: BaseException) -> float:
        """Count a failure; the seconds to wait before recovering, or WorkerGaveUp past the limit."""
        now = self.clock()
        if self.since is None:
            self.since = now
        self.attempts += 1
        if now - self.since > self.limit:
            raise WorkerGaveUp(
                f"the Kafka cluster has not served this worker for {now - self.since:.0f} s (the limit is "
                f"{self.limit:.0f} s, [kafka] max_outage) after {self.attempts} attempts; last error: {exc}"
            ) from exc
        state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]  # the wait strategy reads the count only
        state.attempt_number = self.attempts
        return float(self._wait(state))

    def answered(self) -> None:
        """The cluster served a request: whatever fails next starts a new outage."""
        self.since = None

    def progressed(self) -> None:
        """A transaction committed, or the input is caught up: the worker is healthy again."""
        self.since = None
        self.attempts = 0

    @property
    def elapsed(self) -> float:
        return 0.0 if self.since is None else self.clock() - self.since

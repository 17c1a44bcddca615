#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for tests and local runs,
# built from the jars on Maven Central (see pom.xml) so no Kafka tarball or Docker is needed.
#
#   broker.sh fetch                                  copy the jars into the cache (no-op when up to date)
#   broker.sh start [--port P] [--data DIR] [--timeout S]
#                                                    start a broker, print KAFKA_BOOTSTRAP=... and KAFKA_DATA=...
#   broker.sh start --keep --data DIR [--timeout S]  start again the broker stopped with `stop --keep`: same
#                                                    ports, cluster id, topics, offsets and transactions
#   broker.sh stop [--data DIR] [--timeout S] [--keep]
#                                                    stop it and remove its data dir (--keep: leave it)
#   broker.sh restart [--data DIR] [--down S] [--timeout S]
#                                                    stop --keep, wait S seconds (default 3), start --keep
#
# stdout carries only KEY=VALUE lines, so `eval "$(broker.sh start)"` works; progress goes to stderr.
# Environment: RECON_KAFKA_CACHE (jar cache, default ~/.cache/reconstream/kafka), KAFKA_HEAP_OPTS,
# KAFKA_JVM_OPTS, JAVA_HOME, RECON_PYTHON (a python with confluent-kafka, default the repo's .venv).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${RECON_KAFKA_CACHE:-$HOME/.cache/reconstream/kafka}"
LIB="$CACHE/lib"
RUNS="$CACHE/runs"   # one file per running broker, named by pid, holding its data dir: lets a bare `stop` find it
CREATED_MARK=".created-by-broker-sh"   # only directories carrying this are removed whole by `stop`

log() { printf 'broker.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

java_bin() {
    if [[ -n "${JAVA_HOME:-}" ]]; then echo "$JAVA_HOME/bin/java"; else echo java; fi
}

python_bin() {
    if [[ -n "${RECON_PYTHON:-}" ]]; then echo "$RECON_PYTHON"
    elif [[ -x "$ROOT/.venv/bin/python" ]]; then echo "$ROOT/.venv/bin/python"
    else echo python3
    fi
}

pom_hash() { sha256sum "$HERE/pom.xml" | cut -d' ' -f1; }

cmd_fetch() {
    local stamp="$LIB/.pom-sha256" want
    want="$(pom_hash)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        log "jars up to date in $LIB"
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found: install Maven 3.8+ (apt-get install -y maven)"
    mkdir -p "$CACHE"
    # Two test sessions may fetch at once: serialise, then re-check the stamp the other one may have written.
    exec 9>"$CACHE/.fetch.lock"
    flock 9
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        exec 9>&-
        return 0
    fi
    log "fetching Kafka jars from Maven Central into $LIB"
    local tmp="$CACHE/lib.tmp.$$"
    rm -rf "$tmp"
    # Copy into a scratch dir and swap it in, so an interrupted fetch never leaves a half-filled lib/.
    mkdir -p "$tmp"
    # mvn -q still prints terminal resets; keep its output for when it fails
    if ! mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$tmp" >"$CACHE/fetch.log" 2>&1; then
        cat "$CACHE/fetch.log" >&2
        rm -rf "$tmp"
        die "mvn dependency:copy-dependencies failed (Maven Central reachable? see above)"
    fi
    echo "$want" >"$tmp/.pom-sha256"
    rm -rf "$LIB"
    mv "$tmp" "$LIB"
    exec 9>&-
    log "fetched $(find "$LIB" -name '*.jar' | wc -l) jars ($(du -sh "$LIB" | cut -f1))"
}

# Free loopback ports, chosen while all are held open so they differ from each other (and from `taken`).
free_ports() {
    local count="$1" taken="${2:-0}"
    "$(python_bin)" - "$count" "$taken" <<'EOF'
import socket, sys
count, taken = int(sys.argv[1]), int(sys.argv[2])
held, ports = [], []
while len(ports) < count:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
    port = s.getsockname()[1]
    if port != taken:
        ports.append(port)
print(" ".join(map(str, ports)))
EOF
}

# Exit 0 once the broker answers a metadata request and lists itself, 2 if its process died, 3 on timeout
# (1 would be the probe itself failing, e.g. no confluent-kafka in that python).
wait_ready() {
    local bootstrap="$1" pid="$2" timeout="$3"
    "$(python_bin)" - "$bootstrap" "$pid" "$timeout" <<'EOF'
import os, sys, time
from confluent_kafka.admin import AdminClient
bootstrap, pid, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
# log_level 0: librdkafka would otherwise print a "connection refused" line per retry while the JVM boots
# short reconnect backoff: the default grows to 10 s while the port is still closed, delaying "ready"
admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0,
                     "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 250})
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(2)
    try:
        if admin.list_topics(timeout=2).brokers:
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.2)
sys.exit(3)
EOF
}

write_config() {
    local data="$1" port="$2" cport="$3"
    cat >"$data/server.properties" <<EOF
# written by ops/kafka/broker.sh for one run; \`broker.sh stop\` throws the data dir away (not with --keep)
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
controller.quorum.bootstrap.servers=127.0.0.1:$cport
log.dirs=$data/kraft-logs
num.partitions=1
auto.create.topics.enable=true
# one node: every internal topic must live with a single replica
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# consumers in tests should not wait 3 s for a rebalance that has nobody else to wait for
group.initial.rebalance.delay.ms=0
EOF
}

tail_logs() {
    local data="$1" f
    for f in "$data/broker.out" "$data/logs/server.log"; do
        [[ -s "$f" ]] || continue
        log "---- last lines of $f ----"
        tail -n 40 "$f" >&2
    done
}

# SIGTERM lets Kafka do a controlled shutdown; SIGKILL only if that takes longer than `timeout` seconds.
kill_broker() {
    local data="$1" timeout="$2" pid waited=0
    [[ -f "$data/broker.pid" ]] || return 0
    pid="$(cat "$data/broker.pid")"
    # The pid may have been reused since: only signal a process that is still our kafka.Kafka.
    if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka'; then
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null && ((waited < timeout * 10)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "broker $pid still up after ${timeout}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
        fi
    fi
    rm -f "$data/broker.pid" "$RUNS/$pid"
}

remove_data() {
    local data="$1"
    if [[ -f "$data/$CREATED_MARK" ]]; then
        rm -rf "$data"
    else
        # a directory the caller gave us: remove only what start put there
        rm -rf "$data/kraft-logs" "$data/logs" "$data/server.properties" "$data/broker.out"
    fi
}

cmd_start() {
    local port="" data="" timeout=90 keep=0 cport
    while (($#)); do
        case "$1" in
            --port) port="${2:?--port needs a value}"; shift 2 ;;
            --data) data="${2:?--data needs a value}"; shift 2 ;;
            --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
            --keep) keep=1; shift ;;
            *) die "start: unknown argument $1" ;;
        esac
    done
    command -v "$(java_bin)" >/dev/null || die "java not found: Kafka 4 needs Java 17+"
    cmd_fetch
    if ((keep)); then
        [[ -n "$data" ]] || die "start --keep needs --data DIR (the data dir of the stopped broker)"
        [[ -z "$port" ]] || die "start --keep takes the ports the broker had: no --port"
        resume_broker "$data" "$timeout"
        return
    fi

    if [[ -z "$data" ]]; then
        data="$(mktemp -d "${TMPDIR:-/tmp}/reconstream-kafka.XXXXXX")"
        touch "$data/$CREATED_MARK"
    else
        mkdir -p "$data"
        data="$(cd "$data" && pwd)"
        if [[ -f "$data/broker.pid" ]] && kill -0 "$(cat "$data/broker.pid")" 2>/dev/null; then
            die "a broker is already running from $data (pid $(cat "$data/broker.pid")); stop it first"
        fi
        rm -rf "$data/kraft-logs" "$data/logs" "$data/broker.out"   # every run starts from an empty log
    fi
    mkdir -p "$data/logs"

    if [[ -z "$port" ]]; then
        read -r port cport <<<"$(free_ports 2)"
    else
        cport="$(free_ports 1 "$port")"
    fi
    write_config "$data" "$port" "$cport"

    local java cluster_id
    local -a common broker_jvm
    jvm_setup "$data"

    # Same form as `StorageTool random-uuid` (url-safe base64 of 16 random bytes, no leading '-'),
    # without paying a JVM start for it.
    cluster_id="$("$(python_bin)" -c 'import base64, uuid
while (u := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"): pass
print(u)')"
    # Formatting is a one-second JVM: C1 only and serial GC start it faster than the broker's flags.
    if ! "$java" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC "${common[@]}" kafka.tools.StorageTool format \
            --standalone -t "$cluster_id" -c "$data/server.properties" >"$data/logs/format.out" 2>&1; then
        cat "$data/logs/format.out" >&2
        remove_data "$data"
        die "formatting the storage failed"
    fi

    launch_broker "$data" "$port" "$timeout" remove_data
}

# The JVM flags and classpath of every java run here; sets the caller's `java`, `common` and `broker_jvm`.
jvm_setup() {
    java="$(java_bin)"
    common=("-Dlog4j2.configurationFile=$HERE/log4j2.yaml" "-Dkafka.logs.dir=$1/logs" -cp "$LIB/*")
    # KAFKA_HEAP_OPTS / KAFKA_JVM_OPTS are lists of JVM flags: word splitting is wanted here.
    # shellcheck disable=SC2206
    broker_jvm=(${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20
        -Djava.awt.headless=true ${KAFKA_JVM_OPTS:-})
}

# Run the broker of a formatted data dir and wait until it serves; print the KEY=VALUE lines. On failure
# `cleanup` (remove_data, or keep_data after a restart) decides what is left of the data dir.
launch_broker() {
    local data="$1" port="$2" timeout="$3" cleanup="$4"
    local java started=$SECONDS pid rc=0
    local -a common broker_jvm
    jvm_setup "$data"
    nohup "$java" "${broker_jvm[@]}" "${common[@]}" kafka.Kafka "$data/server.properties" \
        </dev/null >>"$data/broker.out" 2>&1 &
    pid=$!
    # interrupted while waiting: do not leave a broker behind that nobody knows about
    # shellcheck disable=SC2064  # expanded now, quoted for the shell that reads it when the trap fires
    trap "kill_broker $(printf %q "$data") 5; $cleanup $(printf %q "$data"); exit 130" INT TERM
    echo "$pid" >"$data/broker.pid"
    mkdir -p "$RUNS"
    echo "$data" >"$RUNS/$pid"
    log "broker pid $pid on 127.0.0.1:$port (controller $(sed -n 's|^controller.quorum.bootstrap.servers=||p' "$data/server.properties")), data in $data; waiting up to ${timeout}s"

    wait_ready "127.0.0.1:$port" "$pid" "$timeout" || rc=$?
    trap - INT TERM
    if ((rc != 0)); then
        case $rc in
            2) log "the broker process exited during startup" ;;
            3) log "no answer in ${timeout}s" ;;
            *) log "the readiness probe failed: does $(python_bin) have confluent-kafka? (RECON_PYTHON)" ;;
        esac
        tail_logs "$data"
        kill_broker "$data" 10
        "$cleanup" "$data"
        die "kafka did not start"
    fi
    log "ready after $((SECONDS - started))s"
    echo "KAFKA_BOOTSTRAP=127.0.0.1:$port"
    echo "KAFKA_DATA=$data"
}

keep_data() { log "kept the data in $1"; }

# Start the broker stopped by `stop --keep` from what it left: no format (the cluster id and the logs stay),
# and the ports of its server.properties, so clients reconnect to the address they already know.
resume_broker() {
    local data="$1" timeout="$2" port
    [[ -d "$data" ]] || die "start --keep: no data dir $data"
    data="$(cd "$data" && pwd)"
    [[ -f "$data/server.properties" && -f "$data/kraft-logs/meta.properties" ]] \
        || die "start --keep: $data holds no formatted broker (was it stopped with --keep?)"
    if [[ -f "$data/broker.pid" ]] && kill -0 "$(cat "$data/broker.pid")" 2>/dev/null; then
        die "a broker is already running from $data (pid $(cat "$data/broker.pid")); stop it first"
    fi
    port="$(sed -n 's|^advertised.listeners=PLAINTEXT://127.0.0.1:\([0-9]*\)$|\1|p' "$data/server.properties")"
    [[ -n "$port" ]] || die "start --keep: no client port in $data/server.properties"
    launch_broker "$data" "$port" "$timeout" keep_data
}

cmd_stop() {
    local data="" timeout=30 keep=0
    while (($#)); do
        case "$1" in
            --data) data="${2:?--data needs a value}"; shift 2 ;;
            --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
            --keep) keep=1; shift ;;
            *) die "stop: unknown argument $1" ;;
        esac
    done
    data="$(running_data "$data")"
    [[ -d "$data" ]] || { log "nothing to stop: $data does not exist"; return 0; }
    kill_broker "$data" "$timeout"
    if ((keep)); then
        log "stopped; kept $data (start --keep --data $data starts it again)"
    else
        remove_data "$data"
        log "stopped; removed $data"
    fi
}

# Stop the broker, keeping its data, and start it again on the same ports after `down` seconds: what a
# rolling restart or a crashed and respawned broker looks like to its clients.
cmd_restart() {
    local data="" timeout=90 down=3
    while (($#)); do
        case "$1" in
            --data) data="${2:?--data needs a value}"; shift 2 ;;
            --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
            --down) down="${2:?--down needs a value}"; shift 2 ;;
            *) die "restart: unknown argument $1" ;;
        esac
    done
    data="$(running_data "$data")"
    cmd_stop --keep --data "$data"
    sleep "$down"
    cmd_start --keep --data "$data" --timeout "$timeout"
}

# The data dir named, or else that of the one broker running from this cache.
running_data() {
    local data="$1"
    if [[ -z "$data" ]]; then
        # Without --data, stop the one broker running from this cache; with several, refuse to guess.
        local -a live=()
        local f
        for f in "$RUNS"/*; do
            [[ -f "$f" ]] || continue
            if kill -0 "${f##*/}" 2>/dev/null; then live+=("$(cat "$f")"); else rm -f "$f"; fi
        done
        case ${#live[@]} in
            0) die "no running broker started by this script; pass --data DIR to clean up a dead one" ;;
            1) data="${live[0]}" ;;
            *) die "several brokers are running, pick one with --data: ${live[*]}" ;;
        esac
    fi
    echo "$data"
}

case "${1:-}" in
    fetch) shift; cmd_fetch "$@" ;;
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    restart) shift; cmd_restart "$@" ;;
    *) echo "usage: $0 {fetch | start [--port P] [--data DIR] [--timeout S] [--keep] |" \
            "stop [--data DIR] [--timeout S] [--keep] | restart [--data DIR] [--down S] [--timeout S]}" >&2
       exit 2 ;;
esac

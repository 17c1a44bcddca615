"""`recon webhooks deliver | replay | status`: the outbox of a run folder, after or beside the run."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Config
    from .webhooks.delivery import Target
    from .webhooks.outbox import Outbox

OUTBOX_FILE = "webhooks.sqlite"


def targets_of(config: Config) -> list[Target]:
    """The configured receivers with their secrets read now (a missing one names its config key)."""
    from .secrets import read_secret
    from .webhooks.delivery import Target

    return [
        Target(
            name=hook.name,
            url=hook.url,
            secret=read_secret(f"webhooks.{number}.secret", hook.secret_env, hook.secret_file).encode(),
            streams=frozenset(hook.streams),
            owner_queues=frozenset(queue.value for queue in hook.owner_queues),
            max_attempts=hook.max_attempts,
            timeout_seconds=hook.timeout_seconds,
            max_backoff_seconds=hook.max_backoff_seconds,
        )
        for number, hook in enumerate(config.webhooks)
    ]


def add_webhook_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hooks = commands.add_parser("webhooks", help="deliver, replay or inspect a run folder's webhook outbox")
    actions = hooks.add_subparsers(required=True, metavar="ACTION")
    deliver = actions.add_parser("deliver", help="deliver what is due, until nothing is pending or time is up")
    deliver.add_argument("--out", type=Path, required=True, help="the run's output folder")
    deliver.add_argument("--max-seconds", type=float, help="stop after this long (default: until nothing is pending)")
    deliver.set_defaults(handler=cmd_deliver)
    replay = actions.add_parser("replay", help="put dead-lettered deliveries back in the queue")
    replay.add_argument("--out", type=Path, required=True)
    replay.add_argument("--target", help="only those of this receiver")
    replay.set_defaults(handler=cmd_replay)
    status = actions.add_parser("status", help="pending, delivered and dead-lettered deliveries")
    status.add_argument("--out", type=Path, required=True)
    status.set_defaults(handler=cmd_status)


def _outbox(out: Path) -> Outbox | None:
    from .webhooks.outbox import Outbox

    path = out / OUTBOX_FILE
    if not path.exists():
        print(f"recon webhooks: no outbox in {out} (no webhooks were configured for its run)", file=sys.stderr)
        return None
    return Outbox(path)


def cmd_deliver(args: argparse.Namespace) -> int:
    from .cli import config_of
    from .webhooks.delivery import Deliverer

    outbox = _outbox(args.out)
    if outbox is None:
        return 2
    try:
        targets = {target.name: target for target in targets_of(config_of(args))}
        deadline = time.time() + args.max_seconds if args.max_seconds is not None else None
        done = Deliverer(outbox, targets).drain(deadline=deadline)
        counts = outbox.counts()
    finally:
        outbox.close()
    print(
        f"delivered {done.delivered:,}, dead-lettered {done.dead:,} (retries {done.retried:,}); "
        f"outbox: {counts['pending']:,} pending, {counts['delivered']:,} delivered, {counts['dead']:,} dead"
    )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    outbox = _outbox(args.out)
    if outbox is None:
        return 2
    try:
        count = outbox.replay_dead(args.target)
    finally:
        outbox.close()
    print(f"{count:,} dead-lettered deliveries queued again; `recon webhooks deliver` sends them")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    outbox = _outbox(args.out)
    if outbox is None:
        return 2
    try:
        counts, dead = outbox.counts(), outbox.dead_letters()
    finally:
        outbox.close()
    print(f"{counts['pending']:,} pending, {counts['delivered']:,} delivered, {counts['dead']:,} dead")
    for delivery_id, target, attempts, error in dead:
        print(f"  dead {delivery_id} to {target} after {attempts} attempts: {error}")
    return 0

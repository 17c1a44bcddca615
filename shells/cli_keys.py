"""`recon keys add`: an API key for the web service, printed once; the keys file keeps only its SHA-256."""

from __future__ import annotations

import argparse
import secrets
import sys
import tomllib
from pathlib import Path

from reconstream.models.cases import Role

from .auth import ApiKeys, AuthError, key_digest


def add_keys_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="API keys of the web service (for [auth] api_keys_file)")
    actions = keys.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", help="make a key for a person and role; prints it once, stores its SHA-256")
    add.add_argument("--file", type=Path, required=True, help="the keys file (created if absent)")
    add.add_argument("--name", required=True, help="who uses the key (shown as the actor of their actions)")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.set_defaults(handler=cmd_keys_add)


def cmd_keys_add(args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not name or '"' in name or "\\" in name or "\n" in name:
        print("recon keys add: --name must be a plain, non-empty name", file=sys.stderr)
        return 2
    if args.file.exists():
        try:
            tomllib.loads(args.file.read_text())
            ApiKeys.load(args.file)
        except (tomllib.TOMLDecodeError, AuthError) as exc:
            print(f"recon keys add: {args.file} is not a keys file ({exc})", file=sys.stderr)
            return 2
    key = secrets.token_urlsafe(32)
    entry = f'[[keys]]\nname = "{name}"\nrole = "{args.role}"\nsha256 = "{key_digest(key)}"\n\n'
    args.file.parent.mkdir(parents=True, exist_ok=True)
    with args.file.open("a") as handle:
        handle.write(entry)
    args.file.chmod(0o600)
    print(key)  # the only time the key is shown: stdout, so it can be piped into a secret store
    print(f"added a {args.role} key for {name} to {args.file}; keep the key above, it is not stored", file=sys.stderr)
    return 0

#!/usr/bin/env python3
"""Conformance check: an unmodified third-party client (Python librouteros) against routeros-sim.

If librouteros, written against real MikroTik routers, can log in, add a hotspot user, find it
with a query, get the router's own duplicate-name error, remove it and read /system/resource,
then the simulator is faithful where our agent depends on it.

Usage (arguments override the environment):
    conformance.py --host 127.0.0.1 --port 8728 --user admin --password sim-password
                   [--login plain|token] [--cafile cert.pem] [--expect-version 7.16]

Environment: SIM_HOST, SIM_PORT, SIM_USER, SIM_PASSWORD, SIM_LOGIN, SIM_CAFILE.
Exit status 0 when every check passed; 1 with a message naming the failed check otherwise.
"""

from __future__ import annotations

import argparse
import os
import secrets
import ssl
import sys

try:
    import librouteros
    from librouteros.exceptions import TrapError
    from librouteros.login import plain, token
    from librouteros.query import Key, Or
except ImportError as e:  # pragma: no cover - reported to the caller
    print(f"FAIL: librouteros is not installed ({e}); run tests/run.sh to create the venv", file=sys.stderr)
    sys.exit(2)


class CheckFailed(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise CheckFailed(what)


def expect_trap(call, fragment: str, what: str) -> str:
    try:
        call()
    except TrapError as e:
        check(fragment in e.message, f"{what}: trap message {e.message!r} lacks {fragment!r}")
        return e.message
    raise CheckFailed(f"{what}: expected a !trap containing {fragment!r}, the command succeeded")


def parse_args() -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default=env("SIM_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env("SIM_PORT", "8728")))
    p.add_argument("--user", default=env("SIM_USER", "admin"))
    p.add_argument("--password", default=env("SIM_PASSWORD", "sim-password"))
    p.add_argument("--login", choices=["plain", "token"], default=env("SIM_LOGIN", "plain"),
                   help="plain: RouterOS >= 6.43; token: the MD5 challenge of older routers")
    p.add_argument("--cafile", default=env("SIM_CAFILE"), help="API-SSL: PEM certificate to trust")
    p.add_argument("--expect-version", default=None, help="version prefix /system/resource must show")
    return p.parse_args()


def connect(args: argparse.Namespace):
    kwargs = {"port": args.port, "timeout": 10, "login_method": token if args.login == "token" else plain}
    if args.cafile:
        ctx = ssl.create_default_context(cafile=args.cafile)
        kwargs["ssl_wrapper"] = lambda sock: ctx.wrap_socket(sock, server_hostname=args.host)
    return librouteros.connect(args.host, args.user, args.password, **kwargs)


def run(args: argparse.Namespace) -> None:
    api = connect(args)
    users = api.path("ip", "hotspot", "user")
    name = f"conf-{secrets.token_hex(4)}"

    new_id = users.add(name=name, password="pw1", profile="default", **{"limit-uptime": "1h", "comment": "conformance"})
    check(new_id.startswith("*"), f"add returns the new .id, got {new_id!r}")

    rows = list(users.select(Key(".id"), Key("name"), Key("profile"), Key("limit-uptime")).where(Key("name") == name))
    check(len(rows) == 1, f"query by name finds exactly one user, got {rows!r}")
    row = rows[0]
    check(row.get(".id") == new_id, f"found user has the id add returned: {row!r}")
    check(row.get("limit-uptime") == "1h", f"limit-uptime reads back as 1h: {row!r}")
    check("password" not in row, f".proplist limits the properties: {row!r}")

    expect_trap(lambda: users.add(name=name, password="other"), "already have user with this name", "duplicate add")
    expect_trap(lambda: users.add(name=name + "-x", profile="no-such-profile"), "input does not match any value of profile",
                "add with a missing profile")

    either = list(users.select(Key("name")).where(Or(Key("name") == name, Key("name") == "nobody-has-this")))
    check([r.get("name") for r in either] == [name], f"an OR query finds the user: {either!r}")
    neither = list(users.select(Key("name")).where(Key("name") != name, Key("name") == name))
    check(neither == [], f"x != v AND x == v matches nothing: {neither!r}")

    users.update(**{".id": new_id, "comment": "changed", "disabled": True})
    row = list(users.select(Key("comment"), Key("disabled")).where(Key(".id") == new_id))
    check(row == [{"comment": "changed", "disabled": True}], f"set changes comment and disabled: {row!r}")

    users.remove(new_id)
    gone = list(users.select(Key("name")).where(Key("name") == name))
    check(gone == [], f"removed user is gone (an empty print, with or without !empty): {gone!r}")
    expect_trap(lambda: users.remove(new_id), "no such item", "removing it again")

    resource = list(api.path("system", "resource"))
    check(len(resource) == 1, f"/system/resource/print has one item: {resource!r}")
    res = resource[0]
    for key in ("uptime", "version", "board-name", "cpu-load", "free-memory", "total-memory", "platform"):
        check(key in res, f"/system/resource has {key}: {res!r}")
    if args.expect_version:
        check(str(res["version"]).startswith(args.expect_version),
              f"version {res['version']!r} starts with {args.expect_version!r}")

    identity = list(api.path("system", "identity"))
    check(len(identity) == 1 and "name" in identity[0], f"/system/identity has a name: {identity!r}")

    expect_trap(lambda: tuple(api("/ip/hotspot/user/frobnicate")), "no such command", "unknown command")
    expect_trap(lambda: tuple(api("/no/such/menu/print")), "no such command prefix", "unknown menu")
    again = list(api.path("system", "identity"))
    check(again == identity, "the session stays usable after traps")
    api.close()

    # Bad password: the router's own wording reaches the client as a trap.
    bad = argparse.Namespace(**{**vars(args), "password": args.password + "-wrong"})
    try:
        connect(bad).close()
    except TrapError as e:
        wanted = "cannot log in" if args.login == "token" else "invalid user name or password"
        check(wanted in e.message, f"bad password trap {e.message!r} lacks {wanted!r}")
    else:
        raise CheckFailed("login with a wrong password succeeded")


def main() -> int:
    args = parse_args()
    mode = f"{args.login} login" + (" over API-SSL" if args.cafile else "")
    try:
        run(args)
    except CheckFailed as e:
        print(f"FAIL ({mode}, {args.host}:{args.port}): {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - any client error is a conformance failure
        print(f"FAIL ({mode}, {args.host}:{args.port}): {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"ok: librouteros {getattr(librouteros, '__version__', '')} conformance passed ({mode}, {args.host}:{args.port})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

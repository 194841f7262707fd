"""``biogate fleet``: the fleet server (PostgreSQL) and the kiosks that follow it.

    biogate fleet init-db "host=db.example dbname=biogate user=owner sslmode=verify-full"
    biogate fleet site add  --id hq --name "Head office" --key-out /secure/hq.key
    biogate fleet kiosk add --site hq --id door1 --password-out door1.pass
    biogate fleet user add  enrol1 --group enrol --password-out enrol1.pass
    biogate fleet enroll    --site hq --site-key /secure/hq.key --id E042 --name "Ada" ada1.jpg
    biogate fleet delete    --site hq --id E042 --reason "left"
    biogate fleet list      --site hq
    biogate fleet site rotate-key --id hq --site-key /secure/hq.key --new-key-out /secure/hq2.key
    biogate fleet status
    biogate fleet sync      --config kiosk.toml          # the kiosk's agent, without the pipeline

The server's connection string comes from ``--dsn`` or ``BIOGATE_FLEET_DSN``; passwords from
``--password-file``, ``PGPASSWORD`` or ``~/.pgpass`` (never put one on a command line).
See docs/fleet.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, FleetError

NAME = "fleet"
HELP = "fleet of kiosks: PostgreSQL server, central enrolment, kiosk sync agent"


def _conn_args(p: argparse.ArgumentParser, dsn_positional: bool = False) -> None:
    if dsn_positional:
        p.add_argument("dsn", metavar="DSN", help="libpq DSN or postgresql:// URI of the fleet database")
    else:
        p.add_argument("--dsn", help="connection string (default: $BIOGATE_FLEET_DSN)")
    p.add_argument("--password-file", metavar="PATH", help="file holding the role's password")
    p.add_argument("--sslmode", help="disable/require/verify-ca/verify-full (libpq)")
    p.add_argument("--sslrootcert", metavar="PATH", help="CA certificate of the server")
    p.add_argument("--sslcert", metavar="PATH", help="client certificate")
    p.add_argument("--sslkey", metavar="PATH", help="client certificate key")


def _site_key_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--site-key", required=True, metavar="PATH", help="the site key file (never sent)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    init = sub.add_parser("init-db", help="create or upgrade the fleet schema, roles and row-level security")
    _conn_args(init, dsn_positional=True)
    init.add_argument("--role-prefix", default="biogate", help="prefix of the group roles (default biogate)")

    site = sub.add_parser("site", help="sites: add, list, rotate-key").add_subparsers(
        dest="site_action", metavar="ACTION"
    )
    site.required = True
    add = site.add_parser("add", help="add a site with a new data key wrapped under its site key")
    _conn_args(add)
    add.add_argument("--id", required=True, dest="site_id")
    add.add_argument("--name", default="")
    add.add_argument("--dim", type=int, help="template dimension (default: from the first enrolment)")
    keys = add.add_mutually_exclusive_group(required=True)
    keys.add_argument("--key-out", metavar="PATH", help="write a new site key here (mode 600)")
    keys.add_argument("--key-file", metavar="PATH", help="use this existing site key")
    _conn_args(site.add_parser("list", help="list sites"))
    rekey = site.add_parser(
        "rotate-key", help="re-seal every template of a site under a fresh data key (and a new site key)"
    )
    _conn_args(rekey)
    rekey.add_argument("--id", required=True, dest="site_id")
    _site_key_arg(rekey)
    new_key = rekey.add_mutually_exclusive_group(required=True)
    new_key.add_argument(
        "--new-key-out",
        metavar="PATH",
        help="write a new site key here (mode 600); kiosks without it stop syncing",
    )
    new_key.add_argument(
        "--same-key", action="store_true", help="keep the site key, replace only the data key"
    )

    kiosk = sub.add_parser("kiosk", help="kiosks: add").add_subparsers(dest="kiosk_action", metavar="ACTION")
    kiosk.required = True
    kadd = kiosk.add_parser("add", help="register a kiosk and create its database role")
    _conn_args(kadd)
    kadd.add_argument("--site", required=True)
    kadd.add_argument("--id", required=True, dest="kiosk_id")
    kadd.add_argument("--password-out", required=True, metavar="PATH", help="write the role's password here")

    user = sub.add_parser("user", help="users: add").add_subparsers(dest="user_action", metavar="ACTION")
    user.required = True
    uadd = user.add_parser("add", help="create an enrolment or audit login role")
    _conn_args(uadd)
    uadd.add_argument("name")
    uadd.add_argument("--group", required=True, choices=("enrol", "audit"))
    uadd.add_argument("--password-out", required=True, metavar="PATH")

    enroll = sub.add_parser("enroll", help="enrol a person at a site from photos or embeddings")
    _conn_args(enroll)
    _site_key_arg(enroll)
    enroll.add_argument("images", nargs="*", metavar="IMG", help="face photos (one face each)")
    enroll.add_argument("--site", required=True)
    enroll.add_argument("--id", required=True, dest="identity_id")
    enroll.add_argument("--name", default="")
    enroll.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    enroll.add_argument("--add", action="store_true", help="add templates to an enrolled identity")
    enroll.add_argument("--embeddings", metavar="NPY", help="(n, dim) embeddings instead of photos")
    enroll.add_argument("--bundles", default="bundles", metavar="DIR")
    enroll.add_argument("--embedder", metavar="BUNDLE")
    enroll.add_argument("--largest-face", action="store_true")

    delete = sub.add_parser("delete", help="revoke a person at a site (every kiosk follows)")
    _conn_args(delete)
    delete.add_argument("--site", required=True)
    delete.add_argument("--id", required=True, dest="identity_id")
    delete.add_argument("--reason", default="")

    listing = sub.add_parser("list", help="list a site's identities")
    _conn_args(listing)
    listing.add_argument("--site", required=True)
    listing.add_argument("--json", action="store_true")

    status = sub.add_parser("status", help="per kiosk: last sync, change id, lag, spool depth")
    _conn_args(status)
    status.add_argument("--json", action="store_true")

    sync = sub.add_parser("sync", help="run a kiosk's sync agent (the [fleet] table of kiosk.toml)")
    sync.add_argument("--config", required=True, help="kiosk.toml with a [fleet] table")
    sync.add_argument("--once", action="store_true", help="sync until current, then exit")
    sync.add_argument("--duration", type=float, help="stop after this many seconds")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in ("password_file", "sslmode", "sslrootcert", "sslcert", "sslkey")}


def _dsn(args: argparse.Namespace) -> str:
    from ..fleet import DSN_ENV

    dsn = getattr(args, "dsn", None) or os.environ.get(DSN_ENV)
    if not dsn:
        raise ConfigError(f"no fleet server: pass --dsn or set {DSN_ENV}")
    return dsn


def _admin(args: argparse.Namespace) -> Any:
    from ..fleet import FleetAdmin

    return FleetAdmin.connect(_dsn(args), **_options(args))


def _init_db(args: argparse.Namespace) -> int:
    from ..fleet import LATEST, connect, migrate, redact

    with connect(args.dsn, **_options(args)) as conn:
        applied = migrate(conn, args.role_prefix)
        conn.commit()
    done = f"applied v{', v'.join(map(str, applied))}" if applied else "already current"
    print(f"fleet schema v{LATEST} at {redact(args.dsn)}: {done}")
    return 0


def _site(args: argparse.Namespace) -> int:
    from ..fleet import load_site_key
    from ..gallery import GalleryKey

    with _admin(args) as admin:
        if args.site_action == "list":
            for s in admin.sites():
                print(f"{s['id']:<20} {s['identities']:>8} identities  dim={s['dim']}  {s['name']}")
            return 0
        if args.site_action == "rotate-key":
            return _rotate_key(admin, args)
        if args.key_out:
            if Path(args.key_out).exists():
                raise FleetError(f"key file {args.key_out!r} already exists; refusing to overwrite a key")
            key = GalleryKey.generate()
        else:
            key = load_site_key(args.key_file)
        admin.add_site(args.site_id, args.name, key, args.dim)
        if args.key_out:
            key.write(args.key_out)
    where = args.key_out or args.key_file
    print(f"site {args.site_id} added; its site key is {where} (copy it to the site's kiosks only)")
    return 0


def _rotate_key(admin: Any, args: argparse.Namespace) -> int:
    from ..fleet import load_site_key
    from ..gallery import GalleryKey

    key = load_site_key(args.site_key)
    new = None
    if args.new_key_out:
        if Path(args.new_key_out).exists():
            raise FleetError(f"key file {args.new_key_out!r} already exists; refusing to overwrite a key")
        new = GalleryKey.generate()
        new.write(args.new_key_out)  # before the server changes: a key is never lost half-way
    try:
        version, n = admin.rotate_key(args.site_id, key, new)
    except BaseException:
        if args.new_key_out:
            Path(args.new_key_out).unlink()  # the server kept the old key: this one opens nothing
        raise
    where = (
        f"the new site key is {args.new_key_out} (copy it to the site's kiosks)" if new else "site key kept"
    )
    print(f"site {args.site_id}: {n} template(s) re-sealed under data key v{version}; {where}")
    return 0


def _new_login(args: argparse.Namespace, create: Any) -> str:
    """Run ``create(admin) -> (role, password)`` and keep the password in a new mode-600 file only."""
    from ..fleet.admin import write_secret

    if Path(args.password_out).exists():
        raise FleetError(f"{args.password_out!r} already exists; refusing to overwrite a secret")
    with _admin(args) as admin:
        role, password = create(admin)
    write_secret(args.password_out, password)
    return role


def _kiosk(args: argparse.Namespace) -> int:
    role = _new_login(args, lambda admin: admin.add_kiosk(args.kiosk_id, args.site))
    print(f"kiosk {args.kiosk_id} at site {args.site}: database role {role}, password in {args.password_out}")
    return 0


def _user(args: argparse.Namespace) -> int:
    _new_login(args, lambda admin: (args.name, admin.add_user(args.name, args.group, None)))
    print(f"user {args.name} ({args.group}) created, password in {args.password_out}")
    return 0


def _enroll(args: argparse.Namespace) -> int:
    from ..fleet import load_site_key
    from ..gallery import Enrollment
    from .cmd_enroll import parse_meta, templates_from_args

    key = load_site_key(args.site_key)
    meta = parse_meta(args.meta)
    templates = templates_from_args(args)
    with _admin(args) as admin:
        change = admin.enroll_many(
            args.site, key, [Enrollment(args.identity_id, args.name, templates, meta)], add=args.add
        )[0]
    n = len(np.atleast_2d(templates))
    print(f"enrolled {args.identity_id} at site {args.site}: {n} template(s), change {change}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        change = admin.delete(args.site, args.identity_id, args.reason)
    print(f"revoked {args.identity_id} at site {args.site} (change {change})")
    return 0


def _list(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        people = admin.identities(args.site)
    if args.json:
        print(json.dumps(people, indent=2, default=str))
    else:
        for p in people:
            print(f"{p['id']:<24} {p['templates']:>3} template(s)  v{p['version']}  {p['name']}")
        print(f"{len(people)} identities at site {args.site}")
    return 0


def _status(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        rows = admin.status()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'kiosk':<16} {'site':<12} {'seen':>8} {'change':>8} {'lag':>6} {'spool':>6} {'stale_s':>8}")
    for r in rows:
        seen = "never" if r["seen_s_ago"] is None else f"{r['seen_s_ago']:.0f}s"
        cells = [r["change_id"], r["lag_changes"], r["spool_depth"], r["staleness_s"]]
        change, lag, spool, stale = ("-" if v is None else str(v) for v in cells)
        print(f"{r['kiosk']:<16} {r['site']:<12} {seen:>8} {change:>8} {lag:>6} {spool:>6} {stale:>8}")
    return 0


def _sync(args: argparse.Namespace) -> int:
    from ..fleet.kiosk import agent_for_kiosk
    from ..gallery import Gallery, GalleryKey
    from ..kiosk.config import load_config

    config = load_config(args.config)
    if not config.fleet.enabled:
        raise ConfigError(f"{args.config}: [fleet] enabled is not true")
    key = GalleryKey.resolve(config.resolve(config.gallery.key_file) or None)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    deadline = None if args.duration is None else time.monotonic() + args.duration
    with Gallery(config.resolve(config.gallery.path), key, create=True) as gallery:
        agent, _ = agent_for_kiosk(config, gallery)
        with agent:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                status = agent.status()
                if args.once and status["connected"] and status["spool_depth"] == 0 and status["fresh"]:
                    break
                stop.wait(0.2)
            status = {"identities_local": len(gallery), **agent.status()}
    print(json.dumps(status))
    return 0 if status["fresh"] else 1


_ACTIONS = {
    "init-db": _init_db,
    "site": _site,
    "kiosk": _kiosk,
    "user": _user,
    "enroll": _enroll,
    "delete": _delete,
    "list": _list,
    "status": _status,
    "sync": _sync,
}


def run(args: argparse.Namespace) -> int:
    return _ACTIONS[args.action](args)

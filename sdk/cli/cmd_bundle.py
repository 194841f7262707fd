"""``biogate bundle verify|info|keygen|sign|trust``: check, describe and sign model bundles.

* ``verify DIR…`` — signature under a trusted key, manifest structure and thresholds, every file
  (regular, inside the bundle, size and sha256); prints the signer's key id.
* ``info DIR [--json]`` — the manifest summary, the signer and the fitness verdict.
* ``keygen [--out KEY]`` — a new Ed25519 signing key (default: this user's, see docs/security.md).
* ``sign DIR… [--key KEY]`` — (re-)sign bundles whose files match their manifest.
* ``trust KEY.pub [--dir DIR | --system]`` — add a public key to a trust folder; ``--list`` shows
  the trust set in force.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..bundle import check_files, open_bundle, read_manifest
from ..bundle import signing as sig
from ..bundle.fitness import ROLES
from ..errors import ConfigError

NAME = "bundle"
HELP = "verify, describe, sign and trust model bundles (Ed25519 over manifest.json)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bundle_action", metavar="ACTION")
    verify = sub.add_parser("verify", help="check signature, manifest and every file of bundles")
    verify.add_argument("path", nargs="+", metavar="DIR", help="bundle directory (several allowed)")
    verify.add_argument("--trusted-key", action="append", metavar="KEY", help="trust only these keys/folders")
    info = sub.add_parser("info", help="print a verified bundle's manifest summary, signer and fitness")
    info.add_argument("path", nargs="+", metavar="DIR")
    info.add_argument("--json", action="store_true", help="print the whole manifest as JSON")
    info.add_argument("--trusted-key", action="append", metavar="KEY", help="trust only these keys/folders")
    keygen = sub.add_parser("keygen", help="create an Ed25519 signing key (0600) and its .pub")
    keygen.add_argument("--out", default=None, metavar="KEY", help="key file (default: this user's)")
    sign = sub.add_parser("sign", help="sign bundles whose files match their manifest")
    sign.add_argument("path", nargs="+", metavar="DIR")
    sign.add_argument("--key", default=None, metavar="KEY", help="signing key (default: this user's)")
    trust = sub.add_parser("trust", help="trust a public key for bundle signatures")
    trust.add_argument("pubkey", nargs="?", metavar="KEY.pub", help="PEM or OpenSSH Ed25519 public key")
    where = trust.add_mutually_exclusive_group()
    where.add_argument("--dir", default=None, help=f"trust folder (default {sig.user_trust_dir()})")
    where.add_argument("--system", action="store_true", help=f"write to {sig.SYSTEM_TRUST_DIR}")
    trust.add_argument("--list", action="store_true", help="list the trust set in force")


def _verify(args: argparse.Namespace) -> int:
    for path in args.path:
        bundle = open_bundle(path, trusted_keys=args.trusted_key)  # raises BundleError naming the fault
        m = bundle.manifest
        signer = bundle.signer
        who = f"signed by {signer.key_id}" if signer and signer.key_id else "UNSIGNED (override)"
        print(f"OK {bundle.root} ({m['name']} v{m['version']}, {len(m['files'])} files verified, {who})")
    return 0


def _info(args: argparse.Namespace) -> int:
    for path in args.path:
        bundle = open_bundle(path, trusted_keys=args.trusted_key)
        m = bundle.manifest
        if args.json:
            print(json.dumps(m, indent=2))
            continue
        int8 = m.get("int8", {})
        lat = m.get("metrics", {}).get("latency_ms", {})
        print(f"{m['name']} v{m['version']}  task={m['task']} seed={m['seed']} license={m['license']}")
        print(f"  signer {bundle.signer.key_id if bundle.signer else None}")
        for t in m["inputs"]:
            print(
                f"  in  {t['name']} {t['shape']} {t.get('dtype')} {t.get('layout', '')} {t.get('color', '')}"
            )
        for t in m["outputs"]:
            print(f"  out {t['name']} {t['shape']} {t.get('dtype')}")
        for name, entry in sorted(m["files"].items()):
            print(f"  file {name} {entry['bytes']} B sha256 {entry['sha256'][:16]}…")
        print(f"  thresholds {json.dumps(m['thresholds'])}")
        fitness = m.get("fitness")
        if isinstance(fitness, dict) and fitness.get("role") in ROLES:
            print("  " + bundle.fitness(fitness["role"]).message())
        else:
            print("  fitness: none (this bundle may not decide at a door)")
        if int8:
            print(f"  int8 fit={int8.get('fit')} ({int8.get('reason', '')})")
        if isinstance(lat, dict) and lat:
            print("  cpu latency " + ", ".join(f"{k}={v}" for k, v in lat.items() if k.startswith("cpu_")))
        print(f"  recommended {m.get('recommended_precision')}")
    return 0


def _keygen(args: argparse.Namespace) -> int:
    target = Path(args.out).expanduser() if args.out else sig.default_signing_key_path()
    if target.exists():
        raise ConfigError(f"signing key {str(target)!r} exists; refusing to replace it (move it away first)")
    key = sig.SigningKey.generate()
    key.write(target)
    print(f"wrote signing key {target} (0600) and {target}.pub; key id {key.public.key_id}")
    print(f"on a device: biogate bundle trust {target}.pub --system")
    return 0


def _sign(args: argparse.Namespace) -> int:
    key = sig.SigningKey.load(args.key) if args.key else sig.load_or_create_signing_key()
    for path in args.path:
        root = Path(path).expanduser().resolve()
        manifest = read_manifest(root)
        check_files(root, manifest)  # never vouch for files that do not match the manifest
        data = (root / "manifest.json").read_bytes()
        sig.write_signature(root, data, key)
        open_bundle(root, trusted_keys=[key.public])
        print(f"signed {root} ({manifest['name']}) with {key.public.key_id}")
    return 0


def _trust(args: argparse.Namespace) -> int:
    if args.list:
        print(sig.TrustStore.resolve().describe())
        return 0
    if not args.pubkey:
        raise ConfigError("biogate bundle trust needs KEY.pub (or --list)")
    key = sig.load_public_key(args.pubkey)
    folder = sig.SYSTEM_TRUST_DIR if args.system else Path(args.dir or sig.user_trust_dir()).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{key.key_id.replace(':', '_')}.pub"
        target.write_bytes(key.pem())
    except OSError as exc:
        raise ConfigError(f"cannot write to trust folder {str(folder)!r}: {exc.strerror or exc}") from None
    print(f"trusted {key.key_id} ({target})")
    return 0


_ACTIONS = {"verify": _verify, "info": _info, "keygen": _keygen, "sign": _sign, "trust": _trust}


def run(args: argparse.Namespace) -> int:
    action = _ACTIONS.get(getattr(args, "bundle_action", None) or "")
    if action is None:
        raise ConfigError(f"biogate bundle needs an action: {', '.join(_ACTIONS)}")
    return action(args)

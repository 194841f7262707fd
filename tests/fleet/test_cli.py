"""``biogate fleet`` end to end: init-db, site, kiosk, enrol, list, delete, status, sync --once."""

from __future__ import annotations

import json

import numpy as np
import pytest

from biogate.cli.main import main
from biogate.gallery import Gallery, GalleryKey
from biogate.kiosk.config import load_config


def test_fleet_cli_round_trip(pg_server, tmp_path, capsys, monkeypatch):
    db = "clifleet"
    dsn = pg_server.create_database(db)
    pw = tmp_path / "owner.pass"
    pw.write_text(pg_server.password)
    owner = dsn.split(" password=")[0]  # the password comes from the file, never the command line
    conn = ["--dsn", owner, "--password-file", str(pw)]
    keys = tmp_path / "secure"
    keys.mkdir()
    assert main(["fleet", "init-db", owner, "--password-file", str(pw), "--role-prefix", db]) == 0
    assert main(["fleet", "init-db", owner, "--password-file", str(pw)]) == 0
    assert "already current" in capsys.readouterr().out
    assert main(["fleet", "site", "add", *conn, "--id", "hq", "--key-out", str(keys / "hq.key")]) == 0
    assert main(["fleet", "site", "add", *conn, "--id", "hq", "--key-file", str(keys / "hq.key")]) == 2
    assert "already exists" in capsys.readouterr().err
    kiosk_pw = tmp_path / "door1.pass"
    assert (
        main(
            ["fleet", "kiosk", "add", *conn, "--site", "hq", "--id", "door1", "--password-out", str(kiosk_pw)]
        )
        == 0
    )
    assert oct(kiosk_pw.stat().st_mode & 0o777) == "0o600"
    npy = tmp_path / "ada.npy"
    np.save(npy, np.random.default_rng(1).normal(size=(2, 8)).astype(np.float32))
    for ident in ("E1", "E2"):
        args = ["fleet", "enroll", *conn, "--site", "hq", "--site-key", str(keys / "hq.key"), "--id", ident]
        assert main([*args, "--name", "Ada", "--embeddings", str(npy)]) == 0
    assert main(["fleet", "delete", *conn, "--site", "hq", "--id", "E2", "--reason", "left"]) == 0
    capsys.readouterr()
    assert main(["fleet", "list", *conn, "--site", "hq", "--json"]) == 0
    assert [p["id"] for p in json.loads(capsys.readouterr().out)] == ["E1"]
    gallery_key = tmp_path / "gkey"
    GalleryKey.generate().write(gallery_key)
    kiosk_dir = tmp_path / "kiosk"
    kiosk_dir.mkdir()
    (kiosk_dir / "kiosk.toml").write_text(
        f"""
[gallery]
path = "faces.db"
key_file = "{gallery_key}"
[fleet]
enabled = true
dsn = "host=127.0.0.1 port={pg_server.port} dbname={db} user={db}_k_door1"
password_file = "{kiosk_pw}"
sslmode = "disable"
site_key_file = "{keys / "hq.key"}"
poll_s = 0.2
max_staleness_s = 60
"""
    )
    assert load_config(kiosk_dir / "kiosk.toml").fleet.enabled
    assert (
        main(["fleet", "sync", "--config", str(kiosk_dir / "kiosk.toml"), "--once", "--duration", "60"]) == 0
    )
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["identities_local"] == 1 and report["fresh"] and report["change_id"] == 3
    with Gallery(kiosk_dir / "faces.db", GalleryKey.from_file(gallery_key)) as gallery:
        assert [i.id for i in gallery.identities()] == ["E1"]
    assert main(["fleet", "status", *conn, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["kiosk"] == "door1" and row["lag_changes"] == 0 and row["spool_depth"] == 0
    assert kiosk_pw.read_text().strip() not in capsys.readouterr().err


def test_fleet_config_table_is_closed(tmp_path):
    from biogate.errors import ConfigError

    path = tmp_path / "kiosk.toml"
    path.write_text("[fleet]\nenabled = true\nsite_key = 'x'\n")
    with pytest.raises(ConfigError, match="site_key"):
        load_config(path)
    path.write_text("[fleet]\nenabled = true\n")
    from biogate.fleet.kiosk import agent_for_kiosk

    with pytest.raises(ConfigError, match="dsn is required"):
        agent_for_kiosk(load_config(path), None)

"""``biogate gate-sim`` and ``biogate gate`` end to end, as a user runs them."""

from __future__ import annotations

import signal
import subprocess
import sys

from biogate.cli.main import main
from biogate.firmware_bridge import GateClient, load_key


def test_gate_sim_cli_serves_a_pty(tmp_path, capsys):
    key_file = tmp_path / "gate.key"
    cmd = [sys.executable, "-m", "biogate.cli.main", "gate-sim", "--new-key", str(key_file)]
    proc = subprocess.Popen(
        [*cmd, "--max-open-ms", "4000"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("gate simulator on /dev/"), line + proc.stderr.read()
        port = line.split()[3]
        key = load_key(str(key_file))
        with GateClient(port, key) as client:
            assert client.open(1000).session_id == client.session_id
        assert main(["gate", "status", "--port", port, "--key-file", str(key_file)]) == 0
        assert "firmware 2.0" in capsys.readouterr().out
        assert (
            main(["gate", "open", "--port", port, "--key-file", str(key_file), "--duration-ms", "9000"]) == 2
        )
        assert "value" in capsys.readouterr().err  # NAK: above the 4 s maximum
        assert key.hex() not in line
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode in (0, 130), err
    assert key.hex() not in out + err


def test_gate_sim_cli_rejects_a_missing_key(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BIOGATE_GATE_KEY", raising=False)
    assert main(["gate-sim", "--duration", "0.1"]) == 2
    assert "no gate key" in capsys.readouterr().err

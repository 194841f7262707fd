"""The audit log: one JSON line per decision (time, decision, identity, scores, latencies).

Each record carries a random ``event_id`` (so a copy sent elsewhere, e.g. the fleet server,
can be de-duplicated) and is handed to every callable in ``listeners`` before it is written.

No face images are written unless ``save_faces`` is set — the log of an access terminal is
personal data, and templates/images are the most sensitive part of it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError
from .policy import Decision

log = logging.getLogger(__name__)


class AuditLog:
    """Append-only JSON-lines writer, safe to call from several threads."""

    def __init__(self, path: str | Path, save_faces: bool = False) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Owner-only (0600): the log of an access terminal is personal data.
            fd = os.open(str(self.path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._file = os.fdopen(fd, "a", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"audit log {str(self.path)!r} cannot be opened: {exc}") from exc
        self.save_faces = save_faces
        self._lock = threading.Lock()
        self._faces_dir = self.path.parent / (self.path.stem + "_faces")
        #: Called with each record before it is written (the fleet's audit spool).
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def write(
        self,
        decision: Decision,
        latencies_ms: dict[str, float],
        face: np.ndarray | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one record and flush it; returns the record."""
        record: dict[str, Any] = {
            "event_id": uuid.uuid4().hex,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
            "t_capture_ns": decision.t_capture,
            "decision": decision.action,
            "identity": decision.identity or "unknown",
            "reasons": decision.reasons,
            "scores": {k: round(float(v), 5) for k, v in decision.scores.items()},
            "latency_ms": {k: round(float(v), 3) for k, v in latencies_ms.items()},
        }
        if extra:
            record.update(extra)
        with self._lock:
            if self.save_faces and face is not None:
                import cv2

                self._faces_dir.mkdir(mode=0o700, exist_ok=True)
                name = f"{decision.t_capture}_{decision.action}.png"
                cv2.imwrite(str(self._faces_dir / name), face)
                record["face_file"] = name
            for listener in self.listeners:
                try:
                    listener(record)
                except Exception as exc:  # the local line is written whatever a listener does
                    log.error("audit listener %r failed: %s", listener, exc)
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()
        return record

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

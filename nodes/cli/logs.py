"""How a node process writes its log: structured lines, as text or JSON.

Events logged with fields (`nodes.api.request_log`) become `key=value` pairs after the event
name; with `YRDCHAIN_LOG_FORMAT=json` every line is one JSON object instead (for a log
shipper). `YRDCHAIN_LOG_LEVEL` (default INFO) sets the level.

    2026-11-30T22:31:05.112Z INFO commit node=shanghai-1 height=12 hash=0x5b… transactions=3
    2026-11-30T22:31:05.920Z INFO refused node=hangzhou-1 method=GET path=/v1/… status=403 \
error=consent_missing
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from nodes.api.request_log import FIELDS

FORMAT_ENVIRONMENT = "YRDCHAIN_LOG_FORMAT"
LEVEL_ENVIRONMENT = "YRDCHAIN_LOG_LEVEL"


def _text_value(value: Any) -> str:
    text = str(value)
    if text == "" or any(character in text for character in ' "='):
        return json.dumps(text, ensure_ascii=False)
    return text


class StructuredFormatter(logging.Formatter):
    """`time level event key=value …` (or one JSON object a line with `as_json`)."""

    def __init__(self, as_json: bool = False) -> None:
        super().__init__()
        self.as_json = as_json

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """UTC, ISO 8601, milliseconds."""
        moment = time.gmtime(record.created)
        return f"{time.strftime('%Y-%m-%dT%H:%M:%S', moment)}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        """One line; an exception's traceback follows it (text) or goes into `exception`."""
        fields: dict[str, Any] = dict(getattr(record, FIELDS, None) or {})
        event = record.getMessage()
        when = self.formatTime(record)
        if self.as_json:
            document = {"time": when, "level": record.levelname, "logger": record.name,
                        "event": event, **fields}
            if record.exc_info:
                document["exception"] = self.formatException(record.exc_info)
            return json.dumps(document, ensure_ascii=False, default=str)
        if FIELDS in record.__dict__:
            line = " ".join([when, record.levelname, event,
                             *(f"{key}={_text_value(value)}" for key, value in fields.items())])
        else:
            line = f"{when} {record.levelname} {record.name} {event}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_node_logging() -> None:
    """Structured lines on stderr at the level the environment asks for (INFO by default)."""
    handler = logging.StreamHandler()
    handler.setFormatter(StructuredFormatter(
        as_json=os.environ.get(FORMAT_ENVIRONMENT, "text").lower() == "json"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get(LEVEL_ENVIRONMENT, "INFO").upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)

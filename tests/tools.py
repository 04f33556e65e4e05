"""Outside tools some tests need (Chromium, promtool, Compose v1, Hardhat and ganache).

`make test` installs every one of them and sets YRD_REQUIRE_TOOLS=1: there a missing tool fails
the test, so a broken install step cannot hide behind a skip. A bare `pytest` on a machine
without them skips those tests and says which tool and which make target bring it; the same
holds for what the machine must permit (network namespaces for the multi-host test).
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing_tool(reason: str) -> NoReturn:
    """Fail under `make test` (the tools were installed), skip with `reason` elsewhere."""
    if os.environ.get("YRD_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{reason}, although `make test` installs it")
    pytest.skip(reason)

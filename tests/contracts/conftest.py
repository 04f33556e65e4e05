"""Fixtures of the contract tests."""

from __future__ import annotations

import pytest
from deployed_chain import Chain, deploy_chain


@pytest.fixture
def chain() -> Chain:
    """A fresh chain for each test."""
    return deploy_chain()

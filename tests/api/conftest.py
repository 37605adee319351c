"""The SDKs pointed at the local-model gateway of a module (`local_gateway`, each local-model module's own)."""

from __future__ import annotations

import pytest

from tests.conftest import anthropic_sdk, openai_sdk


@pytest.fixture
def gpt(local_gateway):
    return openai_sdk(local_gateway)


@pytest.fixture
def claude(local_gateway):
    return anthropic_sdk(local_gateway)

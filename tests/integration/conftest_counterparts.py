"""Fixtures for the credential counterparts (import them from a test module):
one :class:`LocalCredentialStack` per session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_stack.credentials.stack import LocalCredentialStack


@pytest.fixture(scope="session")
def credential_stack_session() -> Iterator[LocalCredentialStack]:
    with LocalCredentialStack() as stack:
        yield stack


@pytest.fixture
def credential_stack(
    credential_stack_session: LocalCredentialStack,
) -> Iterator[LocalCredentialStack]:
    """The shared stack with its original credentials, no faults and no records."""
    credential_stack_session.reset()
    yield credential_stack_session
    credential_stack_session.reset()

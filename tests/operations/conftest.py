"""The installation every operations test calls into: the access world plus the signing key."""

from __future__ import annotations

import pytest

from retention.access import PrincipalView
from retention.access.principals import IssuedToken
from retention.audit import log as auditing
from retention.install import Installation
from retention.testing import FixedClock
from tests.access_support import World, build_world


def view(issued: IssuedToken) -> PrincipalView:
    """The principal as a front end hands it to an operation after authenticating it."""
    return PrincipalView(issued.principal_id, issued.name)


@pytest.fixture
def world(installation: Installation, clock: FixedClock) -> World:
    """Bootstrap admin and DPO, recruiter rita (NL), three candidates, and the signing key."""
    auditing.create_signing_key(installation)
    return build_world(installation, clock)

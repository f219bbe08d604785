"""Offline Terraform for the template's tests: Terraform's own validate and plan against
schema-only stub providers (see README.md)."""

from .harness import Diagnostic, OfflineTerraform, Result, skip_reason

__all__ = ["Diagnostic", "OfflineTerraform", "Result", "skip_reason"]

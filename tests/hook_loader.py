"""Import the hook scripts (and the template's Jinja extension) as modules, so their
rules can be called directly, and load the template data they read."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

TEMPLATE = Path(__file__).resolve().parent.parent
HOOKS = TEMPLATE / "hooks"

# cookiecutter.json as cookiecutter reads it: the prompts, the choices and the private
# data (_tier_connection_limits, ...) the hooks and the stacks share.
TEMPLATE_DATA: dict[str, Any] = json.loads((TEMPLATE / "cookiecutter.json").read_text())


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_hook(name: str) -> ModuleType:
    return load_module(f"hook_{name}", HOOKS / f"{name}.py")


pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")

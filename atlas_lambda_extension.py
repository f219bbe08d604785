"""Check the answers while cookiecutter (or cruft) still prompts: a Jinja extension.

``cookiecutter.json`` loads this module (``_extensions``; cookiecutter and cruft put the
template directory on ``sys.path`` for it) and renders its last private variable,
``__answers_checked``, through the ``check_answers`` filter once every answer is in.
The rules are the pre-generation hook's (``hooks/pre_gen_project.py``), read from
this template directory on every call.

Checking here rather than only in the hook means: nothing follows the report (a
failing hook gets cookiecutter's traceback, and cruft's ~100 lines, after it), and the
bad answers never reach cookiecutter's replay file, which it writes after the prompts
and before the hook runs. The hook still checks what skips the prompts (``--replay``).

Kept small on purpose: ``cruft update`` imports the extension of the project's old
template commit once and reuses it for the new commit's render, so what changes
between versions belongs in the hook file, which is read afresh.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension

TEMPLATE_DIR = Path(__file__).resolve().parent


def _rules() -> ModuleType:
    path = TEMPLATE_DIR / "hooks" / "pre_gen_project.py"
    spec = importlib.util.spec_from_file_location("atlas_lambda_pre_gen_project", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _options(params: Mapping[str, Any], flags: dict[str, str]) -> list[str]:
    words: list[str] = []
    for flag, key in flags.items():
        if params.get(key) and str(params[key]) != ".":
            words += [flag, str(params[key])]
    return words


def _cli_launcher(rules: ModuleType, params: Mapping[str, Any]) -> Any:
    """The command line the user ran, rebuilt from its parsed parameters; None for a
    command line that is neither cookiecutter's nor cruft's."""
    if {"template", "replay"} <= params.keys():  # cookiecutter
        words = ["cookiecutter", "--no-input", str(params["template"])]
        words += _options(
            params,
            {"--checkout": "checkout", "--directory": "directory",
             "--output-dir": "output_dir", "--config-file": "config_file"},
        )  # fmt: skip
        if params.get("default_config"):
            words.append("--default-config")
        return rules.Launcher("cookiecutter", tuple(words))
    if "template_git_url" in params:  # cruft create
        words = ["cruft", "create", "--no-input"]
        words += _options(
            params,
            {"--output-dir": "output_dir", "--checkout": "checkout",
             "--directory": "directory", "--config-file": "config_file"},
        )  # fmt: skip
        return rules.Launcher("cruft-create", (*words, str(params["template_git_url"])))
    if {"project_dir", "checkout"} <= params.keys():  # cruft update or diff: stored answers
        words = ["cruft", "update", *_options(params, {"--project-dir": "project_dir"})]
        return rules.Launcher("cruft-update", tuple(words))
    return None


def _cli_context() -> Any:
    """The command-line context of cookiecutter (click) or cruft (typer's own copy of
    click), or None when the template is rendered through a Python API."""
    for name in ("click.globals", "typer._click.globals"):
        try:
            current = importlib.import_module(name).get_current_context
        except (ImportError, AttributeError):
            continue
        context = current(silent=True)
        if context is not None:
            return context
    return None


def check_answers(answers: Mapping[str, Any]) -> str:
    rules = _rules()
    context = _cli_context()
    launcher = _cli_launcher(rules, context.params) if context is not None else None
    api = rules.Launcher("cookiecutter", ("cookiecutter", "--no-input", str(TEMPLATE_DIR)))
    if not set(rules.REQUIRED) <= answers.keys():
        # `--replay` of an older replay file prompts only for what it lacks: the
        # pre-generation hook checks the whole set.
        return "by the hook"
    text = rules.report(dict(answers), launcher or api)
    if text is None:
        return "yes"
    if launcher is None:  # rendered through a Python API: an exception the caller can catch
        from cookiecutter.exceptions import FailedHookException  # type: ignore[import-untyped]

        raise FailedHookException(text)
    print(text, file=sys.stderr)  # the last thing printed: nothing follows a clean exit
    raise SystemExit(1)


class CheckAnswers(Extension):
    """Adds the ``check_answers`` filter."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["check_answers"] = check_answers

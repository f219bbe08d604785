"""Check the answers before anything is written, and report every bad one at once.

Each rule is a small function that takes the answers (a plain dict) and yields a
:class:`Problem` for each answer it refuses.  All rules run; the report is one line
per refused answer::

    error: <option>=<value>: <why>. <what to choose instead>

followed by a command that retries with every fix applied.  Nothing is written.

The same rules run twice, from the same file:

- while cookiecutter (or cruft) still prompts, through the template's Jinja
  extension (``atlas_lambda_extension.py``): the report is then the last thing
  printed, and the bad answers never reach cookiecutter's replay file;
- here, as the pre-generation hook, for what skips the prompts (``--replay``).

The template's numbers come from the answers themselves: cookiecutter copies the
private ``_`` keys of ``cookiecutter.json`` into them (``_tier_connection_limits``,
``_connection_headroom``, ``_connections_per_container_per_node``), the same data the
stacks read through ``__max_reserved_concurrency``.  The choice lists come from
``cookiecutter.json`` in the template directory.  The template's tests import this
file and call the rules directly; cookiecutter runs it as a script, with the answers
injected as JSON data at the bottom (never as code).
"""

from __future__ import annotations

import difflib
import functools
import json
import keyword
import math
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

Answers = Mapping[str, Any]


class Problem(NamedTuple):
    """One refused answer: why, what to do, and the value the retry command uses."""

    option: str
    value: object
    why: str
    fix: str
    fixed: str

    def __str__(self) -> str:
        return f"{self.option}={_show(self.value)}: {self.why}. {self.fix}"


Rule = Callable[[Answers], Iterator[Problem]]


def _show(value: object) -> str:
    """Render a value on one line, quoting it when it has spaces or controls."""
    text = str(value)
    if text == "" or re.search(r"[\s\"'\\]", text) or not text.isprintable():
        return json.dumps(text, ensure_ascii=False)
    return text


# --- facts the rules need -----------------------------------------------------

# AWS regions where MongoDB Atlas runs dedicated and Flex clusters.
ATLAS_AWS_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    "ca-central-1", "ca-west-1", "mx-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2",
    "eu-north-1", "eu-south-1", "eu-south-2",
    "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2",
    "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7",
    "me-south-1", "me-central-1", "il-central-1", "af-south-1",
)  # fmt: skip

SHARDED_MIN_TIER = "M30"

LAMBDA_MEMORY_MB = (128, 10240)
# Lambda allows 1-900 s; below 3 s a cold start has no time for TLS, authentication
# and a deadline reserve of 0.75 s.
LAMBDA_TIMEOUT_S = (3, 900)

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]*$")
# The slug names AWS resources (Lambda functions: 64 characters, IAM roles: 64,
# with suffixes added); 40 leaves room for them.
SLUG_MAX_LENGTH = 40
# What a suggested slug or package name starts with when the answer starts with a digit.
NAME_PREFIX = "svc"
DATABASE_NAME_FORBIDDEN = set('/\\. "$*<>:|?')
DATABASE_NAME_MAX_BYTES = 63
SYSTEM_DATABASES = ("admin", "local", "config")
DEFAULT_PROJECT_NAME = "Atlas Lambda Service"
DEFAULT_DATABASE_NAME = "app"

# Import names a package must not shadow: what the project and its tools import.
DEPENDENCY_IMPORT_NAMES = {
    "pymongo", "bson", "gridfs", "pymongo_auth_aws", "dns", "boto3", "botocore",
    "mockupdb", "mongomock", "moto", "pytest", "hypothesis", "mypy", "ruff",
    "local", "tests", "aws_cdk", "constructs", "cdk_nag", "awscdk_resources_mongodbatlas",
    "app", "service_infra", "peering_accepter",  # infra/cdk and the accepter, on mypy's path
}  # fmt: skip


# --- the template's data, as the answers carry it ---------------------------------


def tier_limits(answers: Answers) -> dict[str, int]:
    """Maximum incoming connections per node, per Atlas tier (``cookiecutter.json``)."""
    return dict(answers["_tier_connection_limits"])


def dedicated_tiers(answers: Answers) -> list[str]:
    """The M tiers from smallest to largest (FLEX is the shared, serverless-like tier)."""
    return sorted((t for t in tier_limits(answers) if t.startswith("M")), key=lambda t: int(t[1:]))


def connection_budget(answers: Answers, tier: str) -> int:
    """Connections per node the function may use on this tier: the headroom's share."""
    return int(tier_limits(answers)[tier] * answers["_connection_headroom"])


def lambda_concurrency(answers: Answers) -> tuple[int, int]:
    """Containers a function may reserve (template data, shared with the stacks)."""
    return (1, int(answers["_max_function_concurrency"]))


def max_reserved_concurrency(answers: Answers, tier: str) -> int:
    """Containers whose connections fit the tier's budget, within what a function may
    reserve (``__max_reserved_concurrency``, the stacks' deploy-time maximum)."""
    fitting = connection_budget(answers, tier) // int(
        answers["_connections_per_container_per_node"]
    )
    return min(fitting, lambda_concurrency(answers)[1])


def template_choices(answers: Answers) -> dict[str, list[str]]:
    """The menus of ``cookiecutter.json``, read from the template directory.

    Menus and command-line values are checked by cookiecutter itself; answers that
    skip both (a replay file) are checked here. Without the template directory
    (cruft has no ``_repo_dir``; it never replays) there is nothing to compare.
    """
    return _menus(str(answers.get("_repo_dir") or ""))


@functools.cache
def _menus(repo_dir: str) -> dict[str, list[str]]:
    path = Path(repo_dir) / "cookiecutter.json" if repo_dir else None
    if path is None or not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if isinstance(v, list) and not k.startswith("_")}


# --- suggestions: the value a fix proposes ---------------------------------------


def suggest_slug(text: str) -> str:
    """A valid slug close to ``text``: lowercase ASCII, single hyphens, starts with a letter."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower().encode("ascii", "ignore").decode()).strip("-")
    if not slug[:1].isalpha():
        slug = f"{NAME_PREFIX}-{slug}".strip("-")
    return slug[:SLUG_MAX_LENGTH].rstrip("-")


def suggest_package(text: str) -> str:
    """A lowercase identifier close to ``text`` that shadows nothing."""
    name = suggest_slug(text).replace("-", "_")
    if _shadows(name) or keyword.iskeyword(name) or keyword.issoftkeyword(name):
        name = f"{name}_service"
    return name


def _shadows(name: str) -> bool:
    return name in sys.stdlib_module_names or name in DEPENDENCY_IMPORT_NAMES


def _whole_number(text: str, bounds: tuple[int, int], default: int) -> int:
    """The nearest whole number within bounds, or ``default`` when ``text`` holds none."""
    try:
        number = float(text)
    except ValueError:
        return default
    if not math.isfinite(number):
        return default
    return min(max(round(number), bounds[0]), bounds[1])


# --- rules: each yields a Problem per answer it refuses ----------------------------


def check_choices(answers: Answers) -> Iterator[Problem]:
    """A menu answer must be one of the menu's values (a replay file can hold anything)."""
    for option, allowed in template_choices(answers).items():
        value = answers.get(option)
        if value in allowed:
            continue
        close = difflib.get_close_matches(str(value), allowed, n=1)
        fixed = close[0] if close else allowed[0]
        yield Problem(
            option,
            value,
            "is not one of the choices",
            f"Choose {option}={fixed}; the choices are {', '.join(allowed)}",
            fixed,
        )


def check_project_name(answers: Answers) -> Iterator[Problem]:
    name = str(answers["project_name"])
    if not name.strip():
        yield Problem(
            "project_name",
            name,
            "must not be empty",
            f"Choose a name such as {DEFAULT_PROJECT_NAME}",
            DEFAULT_PROJECT_NAME,
        )
    elif not name.isprintable():
        fixed = " ".join("".join(c if c.isprintable() else " " for c in name).split())
        yield Problem(
            "project_name",
            name,
            "holds a control character or line break",
            f"Choose a name on one line, e.g. {fixed}",
            fixed,
        )


def check_author_name(answers: Answers) -> Iterator[Problem]:
    name = str(answers["author_name"])
    if name.strip() and name.isprintable():
        return
    fixed = " ".join("".join(c if c.isprintable() else " " for c in name).split())
    fixed = fixed or f"The {answers['project_name']} authors"
    yield Problem(
        "author_name",
        name,
        "must be one line of text (LICENSE names it as the copyright holder)",
        f"Choose author_name={_show(fixed)}",
        fixed,
    )


def check_project_slug(answers: Answers) -> Iterator[Problem]:
    slug = str(answers["project_slug"])
    if not SLUG_PATTERN.match(slug):
        why = (
            "must start with a lowercase letter and hold only lowercase letters, digits and hyphens"
        )
    elif len(slug) > SLUG_MAX_LENGTH:
        why = (
            f"is {len(slug)} characters; AWS resource names built from it allow at most "
            f"{SLUG_MAX_LENGTH}"
        )
    elif slug.endswith("-") or "--" in slug:
        why = "must not end with a hyphen or hold two in a row"
    else:
        return
    fixed = suggest_slug(slug)
    yield Problem("project_slug", slug, why, f"Choose project_slug={fixed}", fixed)


def check_package_name(answers: Answers) -> Iterator[Problem]:
    name = str(answers["package_name"])
    if not name.isidentifier() or not name.isascii():
        why = "is not a valid Python identifier"
    elif keyword.iskeyword(name) or keyword.issoftkeyword(name):
        why = "is a Python keyword"
    elif _shadows(name):
        why = "would shadow a standard-library or dependency module of the same name"
    elif name != name.lower():
        why = "must be lowercase (PEP 8)"
    else:
        return
    fixed = suggest_package(name)
    yield Problem("package_name", name, why, f"Choose package_name={fixed}", fixed)


def check_database_name(answers: Answers) -> Iterator[Problem]:
    name = str(answers["database_name"])
    bad = sorted(set(name) & DATABASE_NAME_FORBIDDEN)
    if not name:
        why = "must not be empty"
    elif bad:
        why = f"MongoDB database names cannot contain {' '.join(repr(c) for c in bad)}"
    elif not name.isprintable():
        why = "holds a control character"
    elif len(name.encode()) > DATABASE_NAME_MAX_BYTES:
        why = f"is {len(name.encode())} bytes; MongoDB allows at most {DATABASE_NAME_MAX_BYTES}"
    elif name in SYSTEM_DATABASES:
        why = "is a MongoDB system database, which an application user must not be scoped to"
    else:
        return
    kept = "".join(c for c in name if c not in DATABASE_NAME_FORBIDDEN and c.isprintable())
    fixed = kept.encode()[:DATABASE_NAME_MAX_BYTES].decode(errors="ignore")
    if not fixed or fixed in SYSTEM_DATABASES:
        fixed = DEFAULT_DATABASE_NAME
    yield Problem("database_name", name, why, f"Choose database_name={fixed}", fixed)


def check_aws_region(answers: Answers) -> Iterator[Problem]:
    region = str(answers["aws_region"])
    if region in ATLAS_AWS_REGIONS:
        return
    close = difflib.get_close_matches(region.lower(), ATLAS_AWS_REGIONS, n=1)
    fixed = close[0] if close else ATLAS_AWS_REGIONS[0]
    hint = f"Did you mean {fixed}? " if close else ""
    yield Problem(
        "aws_region",
        region,
        "is not an AWS region MongoDB Atlas supports",
        f"{hint}Choose one of: {', '.join(ATLAS_AWS_REGIONS)}",
        fixed,
    )


def _number(
    answers: Answers, option: str, bounds: tuple[int, int], unit: str, limits: str
) -> Iterator[Problem]:
    raw = answers[option]
    low, high = bounds
    text = str(raw).strip()
    if not re.fullmatch(r"[0-9]+", text):
        why = "is not a whole number"
    elif not low <= int(text) <= high:
        why = f"is outside {limits} of {low}-{high} {unit}"
    else:
        return
    fixed = str(_whole_number(text, bounds, low))
    yield Problem(option, raw, why, f"Choose a whole number of {unit} from {low} to {high}", fixed)


def check_lambda_memory(answers: Answers) -> Iterator[Problem]:
    yield from _number(answers, "lambda_memory_mb", LAMBDA_MEMORY_MB, "MB", "Lambda's limits")


def check_lambda_timeout(answers: Answers) -> Iterator[Problem]:
    yield from _number(
        answers,
        "lambda_timeout_s",
        LAMBDA_TIMEOUT_S,
        "seconds",
        "what a database function needs (cold start, TLS, auth)",
    )


def check_reserved_concurrency(answers: Answers) -> Iterator[Problem]:
    yield from _number(
        answers, "reserved_concurrency", lambda_concurrency(answers), "containers",
        "Lambda's limits",
    )  # fmt: skip


def check_provisioned_concurrency(answers: Answers) -> Iterator[Problem]:
    """Provisioned containers come out of the reserved ones, so the budget covers them."""
    if answers["cold_start"] != "provisioned":
        return  # the other modes never read it
    reserved = str(answers["reserved_concurrency"]).strip()
    ceiling = int(reserved) if reserved.isdigit() and int(reserved) >= 1 else 1
    yield from _number(
        answers, "provisioned_concurrency", (1, ceiling), "containers",
        "1 to reserved_concurrency, whose containers it keeps initialised",
    )  # fmt: skip


def check_sharded_tier(answers: Answers) -> Iterator[Problem]:
    tier = answers["atlas_tier"]
    if answers["cluster_topology"] != "sharded" or tier not in tier_limits(answers):
        return
    tiers = dedicated_tiers(answers)
    if tier in tiers and tiers.index(tier) >= tiers.index(SHARDED_MIN_TIER):
        return
    yield Problem(
        "atlas_tier",
        tier,
        f"sharded clusters need a dedicated tier of {SHARDED_MIN_TIER} or above",
        f"Choose atlas_tier={SHARDED_MIN_TIER} or larger, or cluster_topology=replica_set",
        SHARDED_MIN_TIER,
    )


def check_flex_network(answers: Answers) -> Iterator[Problem]:
    if answers["atlas_tier"] == "FLEX" and answers["network_mode"] != "nat":
        yield Problem(
            "network_mode",
            answers["network_mode"],
            "Atlas FLEX clusters support neither VPC peering nor private endpoints",
            "Choose network_mode=nat, or a dedicated atlas_tier (M10 or above)",
            "nat",
        )


def check_connection_budget(answers: Answers) -> Iterator[Problem]:
    text = str(answers["reserved_concurrency"]).strip()
    tier = answers["atlas_tier"]
    if not text.isdigit() or tier not in tier_limits(answers):
        return  # check_reserved_concurrency and check_choices report these
    concurrency = int(text)
    per_container = answers["_connections_per_container_per_node"]
    per_node = concurrency * per_container
    budget = connection_budget(answers, tier)
    if per_node <= budget:
        return
    largest = max_reserved_concurrency(answers, tier)
    bigger = [t for t in dedicated_tiers(answers) if connection_budget(answers, t) >= per_node]
    alternative = (
        f", or atlas_tier={bigger[0]} (budget {connection_budget(answers, bigger[0])})"
        if bigger
        else ""
    )
    share = round(answers["_connection_headroom"] * 100)
    yield Problem(
        "reserved_concurrency",
        concurrency,
        f"{concurrency} containers x {per_container} connections per container per node = "
        f"{per_node} > {budget} ({share}% of {tier}'s {tier_limits(answers)[tier]} "
        "connections per node)",
        f"Choose reserved_concurrency={largest} or less{alternative}",
        str(largest),
    )


# Every rule runs. The order is the report's, and the order in which fixes are
# applied for the retry command: syntax first, then combinations, then arithmetic
# (fixing the tier first may make a network or concurrency change unnecessary).
RULES: tuple[Rule, ...] = (
    check_choices,
    check_project_name,
    check_author_name,
    check_project_slug,
    check_package_name,
    check_database_name,
    check_aws_region,
    check_lambda_memory,
    check_lambda_timeout,
    check_reserved_concurrency,
    check_provisioned_concurrency,
    check_sharded_tier,
    check_flex_network,
    check_connection_budget,
)


# What the rules read: the prompts and the template data.
REQUIRED = (
    "project_name", "author_name", "project_slug", "package_name", "database_name",
    "aws_region", "atlas_tier", "cluster_topology", "network_mode", "lambda_memory_mb",
    "lambda_timeout_s", "reserved_concurrency", "cold_start", "provisioned_concurrency",
    "_tier_connection_limits", "_connection_headroom", "_connections_per_container_per_node",
    "_max_function_concurrency",
)  # fmt: skip


def problems(answers: Answers) -> list[Problem]:
    """Every refused answer, at most one problem per option (the first rule's)."""
    found: dict[str, Problem] = {}
    for rule in RULES:
        for problem in rule(answers):
            found.setdefault(problem.option, problem)
    return list(found.values())


def fixes(answers: Answers) -> dict[str, str]:
    """The changes that make the answers valid: each first remaining problem's fix, in turn."""
    fixed = dict(answers)
    changes: dict[str, str] = {}
    for _ in range(4 * len(RULES)):
        remaining = problems(fixed)
        if not remaining:
            return changes
        first = remaining[0]
        fixed[first.option] = changes[first.option] = first.fixed
    raise RuntimeError(f"no fix converges for {remaining}")  # a bug in a rule's fix


# --- the retry command ---------------------------------------------------------------


class Launcher(NamedTuple):
    """How the user ran the template, so the retry command is the same, plus the fixes.

    ``kind``: ``cookiecutter`` (answers as ``key=value`` arguments), ``cruft-create``
    (answers as ``--extra-context`` JSON before the template) or ``cruft-update`` (the
    changed answers as ``--variables-to-update`` JSON).
    """

    kind: str
    words: tuple[str, ...]


def user_answers(answers: Answers) -> dict[str, str]:
    """The prompted answers (no private keys), in prompt order."""
    return {k: str(v) for k, v in answers.items() if not k.startswith("_")}


# Jinja's delimiters, spelled so that this file (which cookiecutter renders) holds none.
JINJA_OPENERS = ("{" + "{", "{" + "%", "{" + "#")
RAW, END_RAW = "{" + "% raw %" + "}", "{" + "% endraw %" + "}"


def _literal(value: str) -> str:
    """cookiecutter renders ``--no-input`` values as Jinja; keep Jinja syntax literal."""
    if any(opener in value for opener in JINJA_OPENERS):
        return RAW + value.replace(END_RAW, "") + END_RAW
    return value


def retry_command(launcher: Launcher, answers: Answers, changes: Mapping[str, str]) -> str:
    fixed = {k: _literal(v) for k, v in {**user_answers(answers), **changes}.items()}
    if launcher.kind == "cruft-update":
        words = [*launcher.words, "--variables-to-update", json.dumps(dict(changes))]
    elif launcher.kind == "cruft-create":
        *options, template = launcher.words
        words = [*options, "--extra-context", json.dumps(fixed, ensure_ascii=False), template]
    else:
        words = [*launcher.words, *(f"{k}={v}" for k, v in fixed.items())]
    return shlex.join(words)


def report(answers: Answers, launcher: Launcher) -> str | None:
    """The lines to print for refused answers, ending with the retry command; None if valid."""
    found = problems(answers)
    if not found:
        return None
    changes = fixes(answers)
    count = f"{len(found)} answer{'s' if len(found) > 1 else ''}"
    changed = " ".join(f"{k}={_show(v)}" for k, v in changes.items())
    return "\n".join(
        [
            *(f"error: {problem}" for problem in found),
            "",
            f"{count} refused; nothing was written. Retry with {changed}:",
            "",
            f"  {retry_command(launcher, answers, changes)}",
        ]
    )


def _launch_relative(path: str) -> str:
    """``path`` as the user can type it where they launched cookiecutter (the shell's PWD)."""
    launch = os.environ.get("PWD", "")
    if not os.path.isabs(launch) or not os.path.isdir(launch):
        return path
    relative = os.path.relpath(os.path.realpath(path), os.path.realpath(launch))
    return path if relative.startswith("..") else relative


def hook_launcher(answers: Answers) -> Launcher:
    """The command as far as a hook can tell it from the context cookiecutter passes."""
    if "_commit" in answers:  # cruft adds the template commit; it also never replays
        return Launcher("cruft-update", ("cruft", "update"))
    words = ["cookiecutter", "--no-input", str(answers.get("_template", "."))]
    if answers.get("_checkout"):
        words += ["--checkout", str(answers["_checkout"])]
    output_dir = _launch_relative(str(answers.get("_output_dir", ".")))
    if output_dir != ".":
        words += ["--output-dir", output_dir]
    return Launcher("cookiecutter", tuple(words))


def main(answers: Answers) -> int:
    text = report(answers, hook_launcher(answers))
    if text is None:
        return 0
    print(text, file=sys.stderr)
    return 1


if __name__ == "__main__":
    # The answers arrive as JSON text inside a raw string: ``tojson`` escapes
    # quotes, so no answer can end the string or run as code.
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}""")))

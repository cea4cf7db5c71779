"""The core stays free of platforms: importing it must not pull in slack_bolt or discord."""

import re
import subprocess
import sys

CORE_MODULES = [
    "paperbot.models",
    "paperbot.ports",
    "paperbot.errors",
    "paperbot.settings",
    "paperbot.text",
    "paperbot.analysis",
    "paperbot.vocabulary",
    "paperbot.catchall",
    "paperbot.query",
    "paperbot.matching",
    "paperbot.ranking",
    "paperbot.digest",
    "paperbot.presentation",
    "paperbot.commands",
    "paperbot.service",
    "paperbot.delivery",
    "paperbot.store.store",
    "paperbot.search",
    "paperbot.wiring",
    "paperbot.adapters.console",
]


def test_core_never_imports_an_adapter_or_platform_library() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CORE_MODULES)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('slack_bolt', 'slack_sdk', "
        "'discord') or m.startswith(('paperbot.adapters.slack', 'paperbot.adapters.discord')))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_only_the_scheduler_imports_apscheduler() -> None:
    from pathlib import Path

    import paperbot

    root = Path(paperbot.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if re.search(r"^\s*(import|from) apscheduler", path.read_text(), re.MULTILINE)
        and path.name not in ("scheduler.py", "triggers.py")
    ]
    assert offenders == []


def test_delivery_is_handed_what_it_needs_and_never_imports_the_service() -> None:
    """Issue 11: delivery and service imported each other; the dependency now runs one way."""
    code = (
        "import sys\n"
        "import paperbot.delivery, paperbot.sending, paperbot.digest_records\n"
        "print('paperbot.service' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_no_two_modules_import_each_other() -> None:
    """Module-level imports, those for type checking included: a type-only import is still a
    dependency (delivery was handed the whole service "only for its types")."""
    import ast
    from pathlib import Path

    import paperbot

    root = Path(paperbot.__file__).parent
    imports: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found: set[str] = set()
        body = ast.parse(path.read_text()).body
        nodes = [
            *body,
            *(n for b in body if isinstance(b, ast.If) for n in b.body),  # TYPE_CHECKING
        ]
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        imports[name] = {m for m in found if m.startswith("paperbot.")}
    pairs = sorted(
        (a, b)
        for a, deps in imports.items()
        for b in deps
        if a < b and b in imports and a in imports.get(b, set())
    )
    assert pairs == []

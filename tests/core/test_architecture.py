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

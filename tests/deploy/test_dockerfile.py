"""The container, checked without a Docker engine: the Dockerfile is parsed and its rules checked,
then the image's layout is built the way the Dockerfile builds it (the same files copied, a
plain `pip install .` into a fresh virtual environment) and the installed `paperbot` is run."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA_VOLUME = "/var/lib/paperbot/data"


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def one(self, keyword: str) -> str:
        (found,) = self.all(keyword)
        return found


def parse_dockerfile(text: str) -> list[Stage]:
    """Instructions per stage, continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    args: dict[str, str] = {}
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), parts[0])
            alias = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(image, alias))
        else:
            stages[-1].instructions.append((keyword, rest))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text())


def test_multi_stage_from_a_slim_python(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    build, runtime = stages[0], stages[-1]
    assert build.name == "build" and runtime.name == "runtime"
    for stage in stages:
        assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", stage.image), stage.image
    # The runtime gets the built environment and nothing else from the build stage.
    copies = runtime.all("COPY")
    assert copies == ["--from=build /opt/paperbot /opt/paperbot"]


def test_runtime_stage_runs_as_a_non_root_user(stages: list[Stage]) -> None:
    runtime = stages[-1]
    user = runtime.one("USER")
    uid = user.split(":")[0]
    assert uid not in ("root", "0") and uid.isdigit() and int(uid) >= 1000
    assert any(f"--uid {uid}" in run for run in runtime.all("RUN"))
    # USER comes after every RUN, so nothing else runs as root at start.
    keywords = [kw for kw, _ in runtime.instructions]
    assert keywords.index("USER") > max(i for i, kw in enumerate(keywords) if kw == "RUN")


def test_data_lives_on_a_volume_the_user_owns(stages: list[Stage]) -> None:
    runtime = stages[-1]
    assert DATA_VOLUME in runtime.one("VOLUME")
    env = " ".join(runtime.all("ENV"))
    assert f"PAPERBOT_DATA_DIR={DATA_VOLUME}" in env
    assert any(f"chown paperbot:paperbot {DATA_VOLUME}" in run for run in runtime.all("RUN"))


def test_healthcheck_asks_healthz_on_the_exposed_port(stages: list[Stage]) -> None:
    runtime = stages[-1]
    check = runtime.one("HEALTHCHECK")
    assert "--interval=" in check and "--timeout=" in check
    assert "CMD" in check and "/healthz" in check
    port = runtime.one("EXPOSE")
    assert f"PAPERBOT_HTTP__PORT={port}" in " ".join(runtime.all("ENV"))
    assert f"'{port}'" in check  # the default the check falls back to
    assert "PAPERBOT_HTTP__HOST=0.0.0.0" in " ".join(runtime.all("ENV"))
    assert runtime.one("ENTRYPOINT") == '["paperbot"]'
    assert runtime.one("CMD") == '["run"]'


def test_only_runtime_dependencies_reach_the_final_stage(stages: list[Stage]) -> None:
    build, runtime = stages[0], stages[-1]
    installs = [run for run in build.all("RUN") if "pip install" in run]
    assert len(installs) == 1
    # `pip install .`: the project's dependencies, no extras (test tools, docs, pillow).
    assert re.search(r"pip install \.(\s|$)", installs[0]), installs[0]
    assert "pip uninstall --yes pip setuptools" in installs[0]
    runtime_runs = " ".join(runtime.all("RUN"))
    for word in ("pip install", "apt-get install", "gcc", "build-essential", "[test]"):
        assert word not in runtime_runs


def test_the_build_context_is_an_allow_list() -> None:
    """Secrets in .env or config.toml and local databases never reach the build context."""
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == set(copied_paths(parse_dockerfile((ROOT / "Dockerfile").read_text())))


def copied_paths(stages: list[Stage]) -> list[str]:
    """The repository paths the build stage COPYs in (the last word of a COPY is its target)."""
    paths: list[str] = []
    for args in stages[0].all("COPY"):
        words = [w for w in shlex.split(args) if not w.startswith("--")]
        paths += [w.rstrip("/") for w in words[:-1]]
    return paths


def test_compose_runs_paperbot_with_postgresql() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert "image: postgres:16" in text
    assert "pg_isready" in text and "condition: service_healthy" in text
    assert "postgresql+psycopg://paperbot:${POSTGRES_PASSWORD" in text
    assert "env_file:" in text and "- .env" in text
    assert "postgres-data:/var/lib/postgresql/data" in text
    assert f"paperbot-data:{DATA_VOLUME}" in text
    assert text.count("healthcheck:") == 2


# --- the image's layout, built into a virtual environment -----------------------------------


def _can_build_wheels_offline() -> bool:
    """setuptools builds wheels by itself from 70.1 on; before that it needs `wheel`."""
    try:
        found = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    version = tuple(int(p) for p in found.split(".")[:2] if p.isdigit())
    return version >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def image_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/opt/paperbot as the Dockerfile makes it: the COPYed files, `pip install .`, no extras.

    The dependencies are the ones this test run already has (made visible to the new
    environment by a .pth file) so the build needs no download; paperbot itself is installed
    from a built wheel, not from the source tree.
    """
    tmp = tmp_path_factory.mktemp("image")
    context = tmp / "src"
    context.mkdir()
    for path in copied_paths(parse_dockerfile((ROOT / "Dockerfile").read_text())):
        source = ROOT / path
        if source.is_dir():
            shutil.copytree(
                source, context / path, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            shutil.copy2(source, context / path)
    venv = tmp / "opt-paperbot"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    outer = Path(sysconfig.get_path("purelib"))
    (site / "zz_outer_dependencies.pth").write_text(f"{outer}\n")
    isolation = ["--no-build-isolation"] if _can_build_wheels_offline() else []
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-deps",
            "--no-cache-dir",
            "--disable-pip-version-check",
            *isolation,
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    unreachable = ("No matching distribution found", "NewConnectionError", "Network is")
    if built.returncode != 0 and not isolation and any(w in built.stderr for w in unreachable):
        pytest.skip("this environment has no setuptools>=70.1 (or wheel) and no registry")
    assert built.returncode == 0, built.stderr[-3000:]
    return venv


def test_the_console_script_runs(image_env: Path) -> None:
    result = subprocess.run(
        [str(image_env / "bin" / "paperbot"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=image_env,
    )
    assert result.returncode == 0, result.stderr
    for command in ("run", "console", "ingest", "digest", "reindex"):
        assert command in result.stdout


def test_package_data_is_installed_and_used(image_env: Path, tmp_path: Path) -> None:
    """Migrations and the bundled sample come from the installed package, not the source tree."""
    script = (
        "import sys, paperbot\n"
        "from pathlib import Path\n"
        "root = Path(paperbot.__file__).parent\n"
        f"assert str(root).startswith({str(image_env)!r}), root\n"
        "assert (root / 'py.typed').is_file()\n"
        "assert (root / 'data' / 'sample_papers.json.gz').is_file()\n"
        "assert sorted(p.name for p in (root / 'migrations' / 'versions').glob('0*.py'))\n"
        "from paperbot.store.store import Store\n"
        "from paperbot.store.database import current_revision, head_revision\n"
        f"store = Store.open('sqlite:///{tmp_path / 'image.sqlite'}')\n"
        "assert current_revision(store.engine) == head_revision() is not None\n"
        "store.close()\n"
        "import asyncio, datetime\n"
        "from paperbot.sources.sample import SampleSource\n"
        "found = asyncio.run(SampleSource().fetch_day(datetime.date.today()))\n"
        "assert found.papers, 'the bundled sample is empty'\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [str(image_env / "bin" / "python"), "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_no_tests_or_docs_are_installed(image_env: Path) -> None:
    site = Path(sysconfig.get_path("purelib", vars={"base": str(image_env)}))
    installed = {p.name for p in site.iterdir()}
    assert "paperbot" in installed
    assert not installed & {"tests", "benchmarks", "docs", "scripts"}

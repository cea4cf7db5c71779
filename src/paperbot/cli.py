"""The `paperbot` command: settings are read here, once, and passed down."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from paperbot.errors import ConfigError
from paperbot.logs import configure_logging
from paperbot.models import ChannelKey
from paperbot.settings import Settings, load_settings

app = typer.Typer(
    help="paperbot: research-paper alerts for Slack and Discord channels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
log = logging.getLogger("paperbot")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="PAPERBOT_CONFIG",
        help="TOML config file (default: ./config.toml when present).",
    ),
]


def _config_path(config: Path | None) -> Path | None:
    """The file named, else ./config.toml when there is one."""
    if config is None and Path("config.toml").is_file():
        return Path("config.toml")
    return config


def _settings(config: Path | None) -> Settings:
    """Load settings or exit with the one-line reason."""
    try:
        settings = load_settings(_config_path(config))
    except ConfigError as exc:
        typer.echo(f"paperbot: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings)
    return settings


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run the bot: Slack and/or Discord when configured, else the local console channel.

    Stops within 10 s on SIGTERM or SIGINT (exit 0); exits 2 on a configuration error and 1 on
    any other fatal error, so a supervisor that restarts on failure does.
    """
    settings = _settings(config)
    from paperbot.runner import run_bot

    try:
        code = asyncio.run(run_bot(settings))
    except ConfigError as exc:
        typer.echo(f"paperbot: {exc}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # fatal: say it in one line, exit non-zero so a supervisor restarts
        log.critical("paperbot stopped on a fatal error: %s", exc, exc_info=True)
        raise typer.Exit(1) from None
    # Everything is closed. The interpreter's exit would still garbage-collect the whole heap
    # (the libraries, the analysed sample): 1-3 s of the 10 s a supervisor allows on a loaded
    # 2-core machine, the rest of a SIGTERM's budget. Frozen objects are left to the OS.
    gc.freeze()
    raise typer.Exit(code)


@app.command()
def console(
    config: ConfigOption = None,
    sample: Annotated[bool, typer.Option(help="Ingest the bundled sample papers first.")] = True,
) -> None:
    """A terminal channel on the same core: try every command without any chat token."""
    settings = _settings(config)
    from paperbot.runner import run_console

    asyncio.run(run_console(settings, sample=sample))


@app.command()
def ingest(
    config: ConfigOption = None,
    day: Annotated[
        str | None, typer.Option("--date", help="Day to fetch, YYYY-MM-DD (default today).")
    ] = None,
    days: Annotated[
        int, typer.Option(min=1, max=365, help="Fetch this many days up to --date.")
    ] = 1,
    sample: Annotated[bool, typer.Option(help="Also serve the bundled sample papers.")] = False,
) -> None:
    """Fetch papers from the sources, store, index and match them.

    Exits 0 when every fetch succeeded, 3 when some source failed, 1 when none succeeded.
    """
    settings = _settings(config)
    try:
        last = date.fromisoformat(day) if day else date.today()
    except ValueError:
        typer.echo(f"paperbot: --date must be YYYY-MM-DD, got {day!r}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(asyncio.run(_ingest(settings, last, days, sample)))


# `paperbot ingest` exit codes beyond 0 (every fetch succeeded) and 2 (bad usage or settings),
# so that cron and CI notice a source that is down.
EXIT_NO_SOURCE_SUCCEEDED = 1
EXIT_SOME_SOURCES_FAILED = 3


async def _ingest(settings: Settings, last: date, days: int, sample: bool) -> int:
    from paperbot.wiring import build_core

    core = build_core(settings, include_sample=sample)
    out = Console(stderr=True)
    succeeded = failed = 0
    try:
        if not core.bot.sources:
            out.print("paperbot: no source is enabled (sources.hf, sources.arxiv, sources.sample)")
            return 2
        with _progress(out) as progress:
            task = progress.add_task("ingesting days", total=days)
            for offset in range(days - 1, -1, -1):
                report = await core.bot.ingest_day(last - timedelta(days=offset))
                progress.console.print(f"{last - timedelta(days=offset)}: {report.summary}")
                progress.advance(task)
                succeeded += len(report.fetched)
                failed += len(report.failed)
        # The ingest started retrains of stale taste models in the background: a one-shot
        # command waits for them rather than cancel them on exit.
        await core.bot.taste.settle()
    finally:
        await core.aclose()
    if failed and not succeeded:
        return EXIT_NO_SOURCE_SUCCEEDED
    return EXIT_SOME_SOURCES_FAILED if failed else 0


@app.command()
def digest(
    channel: Annotated[str, typer.Option(help="platform:workspace:channel, e.g. slack:T123:C456")],
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print it; post nothing.")] = False,
) -> None:
    """Show (with --dry-run) or post a channel's digest now."""
    settings = _settings(config)
    try:
        key = ChannelKey.parse(channel)
    except ValueError as exc:
        typer.echo(f"paperbot: {exc}", err=True)
        raise typer.Exit(2) from None
    if not dry_run:
        typer.echo(
            "paperbot: posting needs the running bot; use /papers digest in the channel, "
            "or --dry-run to print it here",
            err=True,
        )
        raise typer.Exit(2)
    asyncio.run(_dry_run_digest(settings, key))


async def _dry_run_digest(settings: Settings, key: ChannelKey) -> None:
    from paperbot.adapters.console import render_header, render_item
    from paperbot.wiring import build_core

    core = build_core(settings)
    out = Console()
    try:
        if core.store.get_channel(key) is None:
            typer.echo(f"paperbot: no channel {key} in the database", err=True)
            raise typer.Exit(2)
        built = await core.bot.build_digest(key)
        out.print(render_header(built))
        for number, item in enumerate(built.items, start=1):
            out.print(render_item(item, number=number))
        if built.is_empty:
            out.print("(nothing would be posted)")
    finally:
        await core.aclose()


@app.command()
def export(
    channel: Annotated[str, typer.Option(help="platform:workspace:channel, e.g. slack:T123:C456")],
    what: Annotated[
        str, typer.Argument(help="week, month, top, or #N (subscription number from list)")
    ] = "week",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write ('-': stdout).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write a channel's papers as BibTeX, as /papers export does in the channel."""
    settings = _settings(config)
    try:
        key = ChannelKey.parse(channel)
    except ValueError as exc:
        typer.echo(f"paperbot: {exc}", err=True)
        raise typer.Exit(2) from None
    asyncio.run(_export(settings, key, what, output))


async def _export(settings: Settings, key: ChannelKey, what: str, output: Path | None) -> None:
    from paperbot.errors import InvalidInput
    from paperbot.export.command import bib_attachment
    from paperbot.export.selection import select_papers
    from paperbot.wiring import build_core

    core = build_core(settings)
    try:
        if core.store.get_channel(key) is None:
            typer.echo(f"paperbot: no channel {key} in the database", err=True)
            raise typer.Exit(2)
        try:
            selection = await select_papers(core.bot, key, what)
        except InvalidInput as exc:
            typer.echo(f"paperbot: {exc}", err=True)
            raise typer.Exit(2) from None
        attachment = bib_attachment(selection, core.bot.clock().date().isoformat(), str(key))
        if output is not None and str(output) == "-":
            sys.stdout.write(attachment.content.decode())
            return
        target = output or Path(attachment.filename)
        target.write_bytes(attachment.content)
        count = len(selection.papers)
        noun = "paper" if count == 1 else "papers"
        typer.echo(f"{count} {noun} {selection.description} -> {target}", err=True)
    finally:
        await core.aclose()


@app.command()
def reindex(config: ConfigOption = None) -> None:
    """Rebuild the search index from the database."""
    settings = _settings(config)
    from paperbot.wiring import build_core

    core = build_core(settings)
    out = Console(stderr=True)
    try:
        total = core.store.count_papers()
        with _progress(out) as progress:
            task = progress.add_task("indexing papers", total=total)
            count = core.search.rebuild(
                core.store, progress=lambda n: progress.update(task, completed=n)
            )
        out.print(f"indexed {count} papers")
    finally:
        asyncio.run(core.aclose())


@app.command()
def backfill(
    path: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="arXiv metadata dump (JSON lines; .gz works)."
        ),
    ],
    config: ConfigOption = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Start from the first line, not where it stopped.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=100, max=100_000)] = 10_000,
) -> None:
    """Import an arXiv metadata snapshot into the database and search index.

    Resumable; history is never matched against subscriptions, so it cannot flood digests.
    Stop the bot first: the search index takes one writer at a time.
    """
    settings = _settings(config)
    from paperbot.backfill import backfill as run_backfill
    from paperbot.search import SearchIndex
    from paperbot.wiring import open_store

    store = open_store(settings)
    search = SearchIndex.open(settings.search_index_dir)
    out = Console(stderr=True)
    started = time.perf_counter()
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[papers]:,} papers · {task.fields[rate]:,.0f}/s"),
            TimeRemainingColumn(),
            console=out,
        ) as progress:
            task = progress.add_task("backfill", total=path.stat().st_size, papers=0, rate=0.0)

            def update(papers: int, read: int) -> None:
                rate = papers / max(time.perf_counter() - started, 1e-9)
                progress.update(task, completed=read, papers=papers, rate=rate)

            report = run_backfill(
                store, path, search, batch_size=batch_size, progress=update, restart=restart
            )
        resumed = f"; resumed at byte {report.resumed_from:,}" if report.resumed_from else ""
        out.print(
            f"{report.papers:,} papers ({report.inserted:,} new, {report.updated:,} updated), "
            f"{report.skipped:,} bad lines skipped, {report.per_second:,.0f} papers/s{resumed}"
        )
    finally:
        search.close()
        store.close()


@app.command()
def status(config: ConfigOption = None) -> None:
    """Each channel's next and last digest, paused channels, and each source's last good fetch."""
    settings = _settings(config)
    from paperbot.status import status_text

    typer.echo(status_text(settings))


@app.command()
def doctor(
    config: ConfigOption = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Check shapes only; do not ask Slack or Discord.")
    ] = False,
) -> None:
    """Check the configuration without starting the bot: one line per check, ok or what to fix."""
    from paperbot import doctor as checkup

    # Not _settings(): a bad configuration is a finding to report here, not a reason to exit.
    checks = checkup.diagnose(_config_path(config), network=not offline)
    typer.echo(checkup.render(checks))
    raise typer.Exit(checkup.exit_code(checks))


@app.command("discord-invite")
def discord_invite(config: ConfigOption = None) -> None:
    """Print the URL that adds the bot to a Discord server with exactly the permissions it needs."""
    settings = _settings(config)
    if settings.discord.application_id is None:
        typer.echo(
            "paperbot: set discord.application_id (PAPERBOT_DISCORD__APPLICATION_ID)", err=True
        )
        raise typer.Exit(2)
    from paperbot.adapters.discord import invite_url

    typer.echo(invite_url(settings.discord.application_id))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

"""`hallwatch server ...`: run the server, manage users, migrate the database, check settings."""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import Any

import click

from server.settings import Settings, SettingsError, load_settings

log = logging.getLogger(__name__)

_settings_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or TOML settings file (default: $HALLWATCH_SETTINGS_FILE); the environment overrides it.",
)


def _load(config_path: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config_path, **overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(name="server", context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Run the hallwatch server (API, MQTT ingest, alerts) and manage its users and database."""


@cli.command()
@_settings_option
@click.option("--host", help="Address to listen on (default 127.0.0.1; HALLWATCH_HTTP__HOST).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on (default 8000).")
@click.option(
    "--demo", is_flag=True, default=None, help="Demo mode: default secrets, demo users guide/manager/ops."
)
@click.option("--database-url", help="sqlite:///path or postgresql+psycopg://user@host/db.")
@click.option("--broker-url", help="mqtt://host:1883; unset runs the embedded broker.")
def run(
    config_path: Path | None,
    host: str | None,
    port: int | None,
    demo: bool | None,
    database_url: str | None,
    broker_url: str | None,
) -> None:
    """Run the server until Ctrl-C: the API on HOST:PORT, MQTT ingest, the alert engine.

    With no broker URL it also runs the embedded MQTT broker (MQTT 3.1.1, port 1883 unless
    HALLWATCH_EMBEDDED_BROKER__PORT says otherwise).
    """
    import uvicorn

    from hallwatch.mqtt import MqttSetupError
    from server.broker import BrokerError, port_open
    from server.runtime import build_server

    overrides: dict[str, Any] = {}
    http: dict[str, Any] = {}
    if host:
        http["host"] = host
    if port:
        http["port"] = port
    if http:
        overrides["http"] = http
    if demo is not None:
        overrides["demo"] = demo
    if database_url:
        overrides["database_url"] = database_url
    if broker_url:
        overrides["mqtt"] = {"url": broker_url}
    settings = _load(config_path, **overrides)
    if settings.uses_embedded_broker:
        broker = settings.broker()
        if port_open(broker.host, broker.port):
            raise click.ClickException(
                f"port {broker.port} is taken, so the embedded MQTT broker cannot start: set "
                "HALLWATCH_EMBEDDED_BROKER__PORT to a free port, or use that broker with "
                "--broker-url mqtt://host:port"
            )
    try:
        server = build_server(settings)
    except (SettingsError, BrokerError) as exc:
        raise click.ClickException(str(exc)) from None
    except MqttSetupError as exc:
        raise click.ClickException(f"mqtt.{exc.setting}: {exc.reason}") from None
    # Everything loaded so far lives as long as the process: keep it out of the garbage collector's
    # full passes, which otherwise walk it every time and pause alerts for 100 ms and more.
    gc.collect()
    gc.freeze()
    if settings.demo:
        click.echo(
            f"hallwatch server (demo) on http://{settings.http.host}:{settings.http.port}/api/docs - "
            "logins guide/guide, manager/manager, ops/ops"
        )
    uvicorn.run(
        server.app,
        host=settings.http.host,
        port=settings.http.port,
        log_config=None,
        # A demo's terminal keeps its logins and addresses in view: one access line per page poll
        # scrolled them away (issue 13). Production keeps its access log.
        access_log=not settings.demo,
        proxy_headers=settings.http.forwarded_allow_ips is not None,
        forwarded_allow_ips=settings.http.forwarded_allow_ips,
        ws_ping_interval=20,
    )


@cli.command("create-user")
@_settings_option
@click.argument("username")
@click.option(
    "--role", type=click.Choice(["guide", "manager", "ops"]), required=True, help="What they may do."
)
@click.option(
    "--site",
    "sites",
    multiple=True,
    help="A site (hall) the role holds on; repeat for several. Without: every site.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def create_user(
    config_path: Path | None, username: str, role: str, sites: tuple[str, ...], password_stdin: bool
) -> None:
    """Add a user who can log in to the pages and the API."""
    from datetime import UTC, datetime

    from server.auth.passwords import hash_password
    from server.schemas.auth import UserCreate
    from server.store import open_store
    from server.store.users import UserExists

    password = _read_password(password_stdin)
    try:
        body = UserCreate.model_validate(
            {"username": username, "password": password, "role": role, "sites": list(sites) or None}
        )
    except ValueError as exc:
        raise click.ClickException(f"invalid user: {exc}") from None
    store = open_store(_load(config_path).database_url)
    try:
        store.users.create(username, hash_password(password), role, datetime.now(UTC), body.sites)
    except UserExists as exc:
        raise click.ClickException(f"{exc}; use `hallwatch server set-password` to change it") from None
    finally:
        store.close()
    click.echo(f"created {role} user {username} on {', '.join(sites) if sites else 'every site'}")


@cli.command("set-password")
@_settings_option
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password(config_path: Path | None, username: str, password_stdin: bool) -> None:
    """Give a user a new password (their current logins end)."""
    from server.auth.passwords import hash_password
    from server.store import open_store

    password = _read_password(password_stdin)
    if len(password) < 8:
        raise click.ClickException("the password needs at least 8 characters")
    store = open_store(_load(config_path).database_url)
    try:
        user = store.users.by_name(username)
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        store.users.update(user.id, password_hash=hash_password(password))
    finally:
        store.close()
    click.echo(f"password of {username} changed")


@cli.command("list-users")
@_settings_option
def list_users(config_path: Path | None) -> None:
    """Show the users, their roles, the sites they hold on and last logins."""
    from server.store import open_store

    store = open_store(_load(config_path).database_url)
    try:
        for user in store.users.all():
            state = " (disabled)" if user.disabled else ""
            last = user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else "never"
            sites = ",".join(user.sites) if user.sites is not None else "every site"
            click.echo(f"{user.username:20} {user.role:8} {sites:24} last login {last}{state}")
    finally:
        store.close()


@cli.command()
@_settings_option
def migrate(config_path: Path | None) -> None:
    """Bring the database schema up to date (the server also does this when it starts)."""
    from server.store import open_store

    settings = _load(config_path)
    open_store(settings.database_url).close()
    click.echo("database is up to date")


@cli.command("check-config")
@_settings_option
def check_config(config_path: Path | None) -> None:
    """Validate the settings (file + environment) and print them, secrets hidden."""
    settings = _load(config_path)
    click.echo(settings.model_dump_json(indent=2))
    try:
        settings.check_secrets()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("settings are valid")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value

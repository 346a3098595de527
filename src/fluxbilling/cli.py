"""The `fluxbilling` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from fluxbilling import errors, logs
from fluxbilling.accounts import Accounts, Principal, Role
from fluxbilling.config import Settings
from fluxbilling.orders.pipeline import Phase, RunState

if TYPE_CHECKING:
    from fluxbilling import bootstrap
    from fluxbilling.orders.detail import OrderDetail

__all__ = ["exit_with", "main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fluxbilling", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API and a worker in one process")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument(
        "--plugin-dir", type=Path, default=None, help="hot-load *.json plugins from here"
    )
    worker = sub.add_parser("worker", help="run an extra worker")
    worker.add_argument("--concurrency", type=int, default=None)
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser(
        "reconcile", help="one reconciler pass: open invoices, stuck deliveries, reversals"
    )
    orders = sub.add_parser("orders", help="inspect orders").add_subparsers(
        dest="action", required=True
    )
    show = orders.add_parser("show", help="print an order's phases and activity")
    show.add_argument("order_id", type=int)
    show.add_argument("--json", action="store_true")
    runs = sub.add_parser("runs", help="operator actions on runs").add_subparsers(
        dest="action", required=True
    )
    retry = runs.add_parser("retry", help="retry a failed run")
    retry.add_argument("run_id", type=int)
    retry.add_argument("--from-phase", choices=[p.value for p in Phase][1:], default=None)
    cancel = runs.add_parser("cancel", help="cancel a run")
    cancel.add_argument("run_id", type=int)
    switchports = sub.add_parser(
        "switchports", help="switch-port jobs (retry one with `runs retry RUN_ID`)"
    ).add_subparsers(dest="action", required=True)
    jobs = switchports.add_parser("list", help="switch-port jobs, newest first")
    jobs.add_argument("--order", type=int, default=None, help="one order's jobs only")
    jobs.add_argument("--state", choices=[s.value for s in RunState], default=None)
    jobs.add_argument("--limit", type=int, default=50)
    jobs.add_argument("--json", action="store_true")
    _users_parser(sub)
    _catalogue_parser(sub)
    _holds_parser(sub)
    _dns_parser(sub)
    keys = sub.add_parser("secrets", help="installation key operations").add_subparsers(
        dest="action", required=True
    )
    keys.add_parser(
        "rotate", help="re-seal every stored secret with the first FLUXBILLING_SECRET_KEY"
    )
    return parser


def _users_parser(sub: Any) -> None:
    users = sub.add_parser("users", help="operator accounts").add_subparsers(
        dest="action", required=True
    )
    roles = [role.value for role in Role]
    create = users.add_parser(
        "create", help="create a user; prints a generated password unless --password-stdin"
    )
    create.add_argument("username")
    create.add_argument("--role", choices=roles, required=True)
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    users.add_parser("list", help="every user with their role")
    set_role = users.add_parser("set-role", help="change a user's role (ends their sessions)")
    set_role.add_argument("username")
    set_role.add_argument("role", choices=roles)
    for verb, text in (("disable", "stop a user signing in"), ("enable", "let them again")):
        users.add_parser(verb, help=text).add_argument("username")
    reset = users.add_parser("reset-password", help="give a user a new generated password")
    reset.add_argument("username")


async def _users(accounts: Accounts, args: argparse.Namespace) -> None:
    """`fluxbilling users ...`, acting as `cli` with the admin role."""
    who = Principal(name="cli", role=Role.ADMIN)
    if args.action == "create":
        password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None
        user, generated = await accounts.create_user(
            who, username=args.username, role=Role(args.role), password=password
        )
        print(f"created user {user.username} with role {user.role}")
        if generated is not None:
            print(f"password: {generated}")
    elif args.action == "list":
        for user in await accounts.list_users():
            state = "disabled" if user.disabled else "enabled"
            print(f"{user.id:>5}  {user.username:<32} {user.role:<9} {state}")
    elif args.action == "reset-password":
        user = await accounts.user_named(args.username)
        user, password = await accounts.reset_password(who, user.id)
        print(f"password of {user.username} reset; their sessions ended")
        print(f"password: {password}")
    else:
        user = await accounts.user_named(args.username)
        role = Role(args.role) if args.action == "set-role" else None
        disabled = {"disable": True, "enable": False}.get(args.action)
        user = await accounts.update_user(who, user.id, role=role, disabled=disabled)
        state = "disabled" if user.disabled else "enabled"
        print(f"{user.username}: role {user.role}, {state}")


def _holds_parser(sub: Any) -> None:
    holds = sub.add_parser("holds", help="capacity and addresses held by checkouts").add_subparsers(
        dest="action", required=True
    )
    listing = holds.add_parser("list", help="holds, newest first")
    listing.add_argument("--state", choices=["held", "consumed", "released", "expired"])
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true")
    release = holds.add_parser("release", help="give a held hold's capacity and address back")
    release.add_argument("hold_id", type=int)


async def _holds(installation: bootstrap.Installation, args: argparse.Namespace) -> None:
    """`fluxbilling holds ...`, acting as `cli`."""
    from fluxbilling.allocation import holds
    from fluxbilling.api.holds import HoldOut

    if args.action == "release":
        hold = await holds.release_by_operator(installation.db, args.hold_id, actor="cli")
        print(f"hold {hold.id} of order {hold.order_id} released: {hold.describe()}")
        return
    state = holds.HoldState(args.state) if args.state else None
    async with installation.db.connect() as conn:
        found, _ = await holds.list_holds(conn, state=state, limit=args.limit, cursor=None)
    if args.json:
        shown = [HoldOut.model_validate(h).model_dump(mode="json") for h in found]
        print(json.dumps(shown, indent=2))
        return
    for h in found:
        until = h.expires_at.isoformat()[:19]
        print(f"{h.id:>6}  order {h.order_id:<6} {h.state:<9} until {until}  {h.describe()}")


def _catalogue_parser(sub: Any) -> None:
    catalogue = sub.add_parser(
        "catalogue", help="locations, subnets, hosts, images, products, customers as YAML"
    ).add_subparsers(dest="action", required=True)
    apply = catalogue.add_parser(
        "apply", help="bring the catalogue to a YAML file: the diff first, then all or nothing"
    )
    apply.add_argument("file", type=Path)
    apply.add_argument("--dry-run", action="store_true", help="check and show; write nothing")
    apply.add_argument(
        "--prune", action="store_true", help="delete entries of listed sections the file lacks"
    )
    _printer(catalogue, "export", "print the whole catalogue as YAML")


def _printer(parsers: Any, name: str, text: str) -> Any:
    """A command that prints what it exports, or writes it to `-o FILE`."""
    command = parsers.add_parser(name, help=text)
    command.add_argument("-o", "--output", type=Path, default=None, help="write it here")
    return command


def _emit(text: str, output: Path | None) -> None:
    """Print `text`, or write it to `output` and say so."""
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}")


def _dns_parser(sub: Any) -> None:
    dns = sub.add_parser(
        "dns", help="the internal rDNS backend's zones (the dns_records table)"
    ).add_subparsers(dest="action", required=True)
    export = _printer(
        dns, "export-zone", "print one zone as an RFC 1035 master file (SOA and NS included)"
    )
    export.add_argument("zone", help="e.g. 2.0.192.in-addr.arpa or example.com")


async def _export_zone(
    installation: bootstrap.Installation, zone: str, output: Path | None
) -> None:
    """Write `zone` from the table; a zone without records is NotFound (exit 2)."""
    import time

    from fluxbilling.config import split_list
    from fluxbilling.network import dnsserver

    table = dnsserver.DnsTable(installation.db)
    name = zone.strip().lower().rstrip(".") + "."
    rows = await table.zone_rows(name)
    if not rows:
        held = ", ".join(await table.zones()) or "none"
        raise errors.NotFound(f"no records in zone {name} (zones held: {held})")
    text = dnsserver.zone_file(
        name,
        rows,
        nameservers=split_list(installation.settings.dns_nameservers),
        serial=int(time.time()),
    )
    _emit(text, output)


async def _apply_catalogue(
    installation: bootstrap.Installation, path: Path, *, dry_run: bool, prune: bool
) -> None:
    """Print the plan of a catalogue file, then apply it (or, dry, check it and roll back)."""
    import yaml

    from fluxbilling.api.catalogue import read_document
    from fluxbilling.catalogue import document

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise errors.InvalidSettings(f"cannot read {path}: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise errors.InvalidSettings(f"{path} is not a YAML document: {exc}") from None
    entries = read_document(data)
    await installation.load_builtin_plugins()
    kinds = document.kinds(installation.drivers)
    async with installation.db.begin() as conn:
        planned = await document.plan(conn, kinds, entries, prune=prune)
        print(planned.render())
        if not planned.changes_anything:
            return
        trial = await conn.begin_nested()
        await document.apply(conn, kinds, planned, actor="cli")
        if dry_run:
            await trial.rollback()
            print("dry run: every change was checked; nothing was written")
        else:
            await trial.commit()
            print("applied")


async def _export_catalogue(installation: bootstrap.Installation, output: Path | None) -> None:
    import yaml

    from fluxbilling.catalogue import document

    async with installation.db.connect() as conn:
        exported = await document.export(conn, document.kinds(installation.drivers))
    text = "# fluxbilling catalogue export (apply it with: fluxbilling catalogue apply FILE)\n"
    text += yaml.safe_dump(exported, sort_keys=False, allow_unicode=True)
    _emit(text, output)


async def _dispatch(args: argparse.Namespace) -> int:
    from fluxbilling import bootstrap, server
    from fluxbilling.db.migrate import upgrade

    settings = Settings()
    installation = bootstrap.build(settings)
    if args.command == "serve":
        await server.run_serve(
            installation,
            host=args.host or settings.listen_host,
            port=args.port if args.port is not None else settings.listen_port,
            plugin_dir=args.plugin_dir,
        )
        return 0
    if args.command == "worker":
        await server.run_worker(installation, concurrency=args.concurrency)
        return 0
    try:
        if args.command == "migrate" or installation.db.is_sqlite:
            await upgrade(installation.db)  # the embedded database migrates itself
        await _command(installation, args)
    finally:
        await installation.close()
    return 0


async def _command(installation: bootstrap.Installation, args: argparse.Namespace) -> None:
    """The commands that run once against the installation and exit."""
    if args.command == "migrate":
        print("database is up to date")
    elif args.command == "runs":
        await _runs(installation, args)
    else:
        await _ONE_SHOT[args.command](installation, args)


async def _runs(installation: bootstrap.Installation, args: argparse.Namespace) -> None:
    if args.action == "retry":
        phase = Phase(args.from_phase) if args.from_phase else None
        await installation.store.retry(args.run_id, from_phase=phase, actor="cli")
        print(f"run {args.run_id} queued" + (f" from {phase.value}" if phase else ""))
    else:
        await installation.store.cancel(args.run_id, actor="cli")
        print(f"run {args.run_id} cancelled")


async def _show_order(installation: bootstrap.Installation, args: argparse.Namespace) -> None:
    from fluxbilling.api.orders import OrderOut
    from fluxbilling.orders import detail

    order = await detail.describe_order(installation.db, args.order_id)
    shown = OrderOut.model_validate(order).model_dump(mode="json")
    print(json.dumps(shown, indent=2) if args.json else _render_order(order))


async def _reconcile(installation: bootstrap.Installation, args: argparse.Namespace) -> None:
    passed = await installation.reconciler().run_once()
    print(json.dumps(passed.to_dict(), indent=2))


async def _catalogue(installation: bootstrap.Installation, args: argparse.Namespace) -> None:
    if args.action == "apply":
        await _apply_catalogue(installation, args.file, dry_run=args.dry_run, prune=args.prune)
    else:
        await _export_catalogue(installation, args.output)


async def _dns(installation: bootstrap.Installation, args: argparse.Namespace) -> None:
    await _export_zone(installation, args.zone, args.output)


async def _users_command(installation: bootstrap.Installation, args: argparse.Namespace) -> None:
    await _users(installation.accounts, args)


async def _secrets(installation: bootstrap.Installation, args: argparse.Namespace) -> None:
    from fluxbilling.rotation import reseal_all

    report = await reseal_all(installation.db, installation.vault)
    print(
        f"re-sealed {report.connections} connection(s) and {report.services} root password(s)"
        f", {report.pending_passwords} pending password reset(s), "
        f"{report.console_sessions} console session(s) and "
        f"{report.install_cursors} install(s) in flight"
    )


async def _switch_port_jobs(installation: bootstrap.Installation, args: argparse.Namespace) -> None:
    from fluxbilling.api.switch_ports import SwitchPortJobOut
    from fluxbilling.orders import switch_jobs

    state = RunState(args.state) if args.state else None
    query = switch_jobs.job_rows(args.order, state=state).limit(max(1, args.limit))
    async with installation.db.connect() as conn:
        found = [switch_jobs.job_row(r) for r in (await conn.execute(query)).all()]
    if args.json:
        shown = [SwitchPortJobOut.model_validate(j).model_dump(mode="json") for j in found]
        print(json.dumps(shown, indent=2))
        return
    if not found:
        print("no switch-port jobs")
    for job in found:
        print(_render_switch_job(job))


def _render_switch_job(job: Any) -> str:
    error = (job.last_error or {}).get("message")
    return (
        f"job {job.id}  run {job.run_id}  order {job.order_id}  {job.operation} VLAN {job.vlan}"
        f" on {job.port}  {job.state} (attempt {job.attempt})"
        + (f"  error: {error}" if error else "")
    )


def _render_order(order: OrderDetail) -> str:
    lines = [f"order {order.id}  {order.hostname}  state={order.state}"]
    run = order.run
    if run is not None:
        lines.append(f"run {run.id}: {run.state} at {run.phase} (attempt {run.attempt})")
        if run.wait_reason:
            lines.append(f"  reason: {run.wait_reason}")
    if order.hold is not None:
        lines.append(f"checkout hold {order.hold.id}: {order.hold.state}, {order.hold.describe()}")
    lines.append("phases:")
    for phase in order.phases:
        lines.append(f"  {phase.phase:<11} {phase.status}")
    if order.switch_port_jobs:
        lines.append("switch-port jobs:")
        lines += [f"  {_render_switch_job(job)}" for job in order.switch_port_jobs]
    lines.append("activity:")
    for event in order.activity:
        at = event.at.isoformat()[:19]
        lines.append(f"  {at}  {event.phase or '-':<11} {event.event:<18} {event.message}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line."""
    args = _parser().parse_args(argv)
    logs.configure(logging.DEBUG if args.verbose else logging.INFO)
    exit_with(_dispatch(args))


def exit_with(command: Coroutine[Any, Any, int]) -> NoReturn:
    """Run a command to its exit code and exit; a `FluxError` prints its message and exits 2."""
    try:
        code = asyncio.run(command)
    except errors.FluxError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()


_ONE_SHOT: dict[
    str, Callable[[bootstrap.Installation, argparse.Namespace], Coroutine[Any, Any, None]]
] = {
    "orders": _show_order,
    "users": _users_command,
    "holds": _holds,
    "reconcile": _reconcile,
    "catalogue": _catalogue,
    "dns": _dns,
    "secrets": _secrets,
    "switchports": _switch_port_jobs,
}
"""The one-shot commands other than `migrate` and `runs`, by name."""

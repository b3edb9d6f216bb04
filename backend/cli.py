"""``astrocoffee``: serve, migrate, seed-demo, ledger verify.

Every command resolves its servers the same way: the URLs from the environment, or the
embedded development servers when both are unset.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import NoReturn

import msgspec

from backend.accounting.documents import use_program_zone
from backend.cli_jobs import (
    evaluate_tiers_command,
    expire_points_command,
    maintenance_command,
    partner_webhooks_command,
    push_worker_command,
    scheduler_command,
    with_pool,
    worker_command,
)
from backend.ops.logging import configure_logging
from backend.servers import ensure_servers
from backend.settings import Settings, SettingsError, load_settings

log = logging.getLogger("astrocoffee")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # What a command needs from the person at the keyboard is asked before the (possibly
    # embedded) servers start, so that a mistake costs nothing and says so in one line.
    prepare: Callable[[argparse.Namespace], str | None] | None = getattr(args, "prepare", None)
    if prepare is not None and (problem := prepare(args)) is not None:
        print(f"astrocoffee {args.command}: {problem}", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"astrocoffee: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    use_program_zone(settings.program_time_zone)  # dates store-less accounting documents
    settings, handles = ensure_servers(settings)
    if handles:
        # The embedded servers stop from atexit hooks, which a plain SIGTERM would skip
        # (uvicorn re-raises the signal after its graceful shutdown): exit normally instead.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        result: int = args.handler(settings, args)
        return result
    except SettingsError as exc:  # a command that needs a setting the others do not
        print(f"astrocoffee {args.command}: {exc}", file=sys.stderr)
        return 2
    finally:
        del handles  # Keeps embedded servers up until the command is done.


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake told in one line that says where to read more (argparse's
    usage block buried the line that mattered). Subcommands inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


# The periodic jobs and workers (backend.cli_jobs): commands that take no argument.
_JOBS: tuple[tuple[str, str, Callable[[Settings, argparse.Namespace], int]], ...] = (
    ("expire-points", "expire points past their date (safe to re-run)", expire_points_command),
    ("evaluate-tiers", "set every member's tier from their spend", evaluate_tiers_command),
    (
        "maintenance",
        "run every periodic job once, as the scheduler's round does: holds, pending points, "
        "expiry, purges, tiers, late payments, campaign starts and ends, erasures",
        maintenance_command,
    ),
    (
        "scheduler",
        "run the periodic jobs every ASTROCOFFEE_MAINTENANCE_INTERVAL_S until SIGTERM, "
        "one scheduler at a time (a renewed, fenced lease)",
        scheduler_command,
    ),
    ("worker", "deliver the outbox to the accounting system until SIGTERM", worker_command),
    (
        "partner-webhooks",
        "feed the committed member events to partner webhooks and send them until SIGTERM",
        partner_webhooks_command,
    ),
    (
        "push-worker",
        "feed the committed member events to push and send to Web Push, FCM and APNs until SIGTERM",
        push_worker_command,
    ),
)


def _parser() -> argparse.ArgumentParser:
    from backend.staff.schemas import PASSWORD_RULE

    parser = _Parser(prog="astrocoffee", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="command", dest="command")

    serve = commands.add_parser("serve", help="run the HTTP and WebSocket server (uvicorn)")
    serve.add_argument("--host", help="default: ASTROCOFFEE_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default: ASTROCOFFEE_PORT or 8000")
    serve.add_argument("--workers", type=int, help="default: ASTROCOFFEE_WORKERS or 1")
    serve.add_argument("--migrate", action="store_true", help="apply migrations first")
    serve.add_argument(
        "--seed-demo", action="store_true", help="create demo data if missing and say how to try it"
    )
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser("migrate", help="apply the committed database migrations")
    only_look = migrate.add_mutually_exclusive_group()
    only_look.add_argument(
        "--check",
        action="store_true",
        help="apply nothing: exit 0 if no committed migration is pending, 1 if one is",
    )
    only_look.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="apply nothing: wait up to SECONDS for another process (the migrate Job) to "
        "apply them; exit 0 once none is pending, 1 if one still is (Kubernetes init containers)",
    )
    migrate.set_defaults(handler=_migrate)

    seed = commands.add_parser("seed-demo", help="create a demo store, terminal and members")
    seed.add_argument("--new-terminal", action="store_true", help="mint another demo terminal key")
    seed.set_defaults(handler=_seed_demo)

    admin = commands.add_parser(
        "create-admin",
        help="create an admin (password prompted, or read from stdin)",
        description="Create an admin, who logs in at /staff and can create the other staff.\n"
        f"The password: {PASSWORD_RULE}.",
        epilog="examples:\n"
        "  astrocoffee create-admin --email you@example.com --name You\n"
        "  printf '%s\\n' \"$PASSWORD\" | astrocoffee create-admin --email you@example.com "
        "--name You --password-stdin",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    admin.add_argument("--email", required=True, help="the login")
    admin.add_argument("--name", required=True, help="shown to other staff")
    admin.add_argument(
        "--password-stdin",
        action="store_true",
        help=f"read the password ({PASSWORD_RULE}) from standard input instead of asking at "
        "the terminal (needed without a terminal)",
    )
    admin.set_defaults(handler=_create_admin, prepare=_admin_from_the_keyboard)

    for name, says, handler in _JOBS:
        commands.add_parser(name, help=says).set_defaults(handler=handler)

    reconcile = commands.add_parser(
        "reconcile",
        help="compare a business day's sales and points liability with the accounting system "
        "and the payment provider; exit 1 on any difference, 2 if either cannot be read",
    )
    reconcile.add_argument(
        "--date",
        required=True,
        type=date.fromisoformat,
        help="local business date, YYYY-MM-DD: every store's own date in its zone (and the "
        "program zone's for movements no store made), or one store's with --store",
    )
    reconcile.add_argument(
        "--store", metavar="CODE", help="reconcile this store's business day only (its code)"
    )
    reconcile.set_defaults(handler=_reconcile)

    ledger = commands.add_parser("ledger", help="ledger maintenance")
    ledger_commands = ledger.add_subparsers(required=True, metavar="action")
    verify = ledger_commands.add_parser("verify", help="recompute every balance from the ledger")
    verify.set_defaults(handler=_verify_ledger)
    return parser


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    if args.check or args.wait is not None:
        from db.schema_state import describe_pending, wait_until_migrated

        assert settings.database_url is not None
        waited = wait_until_migrated(settings.database_url, timeout_s=max(0.0, args.wait or 0))
        pending = asyncio.run(waited)
        print(describe_pending(pending))
        return 1 if pending else 0
    from db.migrate import MigrationError

    try:
        print(_apply_migrations(settings))
    except MigrationError as exc:
        print(f"astrocoffee migrate: {exc}", file=sys.stderr)
        return 1
    return 0


def _apply_migrations(settings: Settings) -> str:
    from db.migrate import apply_migrations, describe

    # The primary itself, never PgBouncer (DATABASE_MIGRATION_URL; see db.migrate).
    return describe(asyncio.run(apply_migrations(settings.migration_url)))


def _seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from backend.seed import how_to_try, seed_demo

    async def work() -> int:
        seed = await seed_demo(new_terminal=args.new_terminal)
        print(how_to_try(settings, seed))
        return 0

    return with_pool(work)


def _admin_from_the_keyboard(args: argparse.Namespace) -> str | None:
    """Read and check the new admin's password into ``args.staff``; or say what is wrong.

    Without a terminal getpass died with an EOFError traceback: a script must say
    --password-stdin, and an empty standard input is "no password", not a crash.
    """
    import getpass

    from backend.staff.schemas import PASSWORD_MIN_LENGTH, PASSWORD_RULE, StaffCreate

    rule = PASSWORD_RULE
    stdin = sys.stdin
    if args.password_stdin:
        line = stdin.readline() if stdin is not None else ""
        if not line:
            return (
                "no password was given: standard input was empty (give one line of at least "
                f"{PASSWORD_MIN_LENGTH} characters)"
            )
        password = line.rstrip("\r\n")
    elif stdin is None or not stdin.isatty():
        return f"no terminal to ask for the password: pipe it in with --password-stdin ({rule})"
    else:
        try:
            password = getpass.getpass(f"password for {args.email} ({rule}): ")
            again = getpass.getpass("the same password again: ")
        except (EOFError, KeyboardInterrupt):
            return "no password was given"
        if password != again:
            return "the two passwords differ"
    try:
        args.staff = msgspec.convert(
            {"email": args.email, "name": args.name, "password": password, "role": "admin"},
            StaffCreate,
        )
    except msgspec.ValidationError as exc:
        reason = str(exc)
        if "$.password" in reason:
            return f"the password must have {rule}, without control characters"
        if "$.email" in reason:
            return f"--email {args.email!r} is not an email address"
        return f"--name: {reason}"
    return None


def _create_admin(_: Settings, args: argparse.Namespace) -> int:
    from backend.errors import DomainError
    from backend.staff.service import create_staff

    async def work() -> int:
        try:
            admin = await create_staff(args.staff)
        except DomainError as exc:
            print(f"astrocoffee: {exc.detail}", file=sys.stderr)
            return 1
        print(f"admin {admin.email} created ({admin.id})")
        return 0

    return with_pool(work)


def _reconcile(settings: Settings, args: argparse.Namespace) -> int:
    import httpx

    from backend.accounting.books import external_books
    from backend.accounting.reconciliation import reconcile_day
    from backend.orders.payment_provider import ProviderRefused, ProviderUnavailable
    from db.tables import Store

    # In development the two systems are the fakes that `make run` starts: a refused
    # connection most likely means it is not running, and the line says so.
    hint = " (in development `make run` starts it)" if settings.environment == "development" else ""

    async def work() -> int:
        store_id = None
        if args.store is not None:
            row = await Store.select(Store.id).where(Store.code == args.store).first()
            if row is None:
                print(
                    f"astrocoffee reconcile: no store has the code {args.store!r}", file=sys.stderr
                )
                return 2
            store_id = row["id"]
        try:
            async with external_books(settings) as books:
                report = await reconcile_day(args.date, books, store_id=store_id)
        except httpx.HTTPError as exc:  # the accounting client's transport and status errors
            print(
                f"astrocoffee reconcile: cannot read the accounting system at "
                f"{settings.accounting_url}: {exc or type(exc).__name__}{hint}",
                file=sys.stderr,
            )
            return 2
        except (ProviderUnavailable, ProviderRefused) as exc:
            print(
                f"astrocoffee reconcile: cannot read the payment provider at "
                f"{settings.payment_provider_url}: {exc}{hint}",
                file=sys.stderr,
            )
            return 2
        print(msgspec.json.format(msgspec.json.encode(report)).decode())
        return 0 if report.balanced else 1

    return with_pool(work)


def _verify_ledger(_: Settings, __: argparse.Namespace) -> int:
    from backend.loyalty.verify import count_accounts, find_mismatches

    async def work() -> int:
        mismatches = await find_mismatches()
        for m in mismatches:
            print(
                f"MISMATCH account={m.account_id} member={m.member_id} check: {m.check}; "
                f"cached={m.cached} expected={m.expected}"
            )
        total = await count_accounts()
        print(f"ledger verify: {total} accounts, {len(mismatches)} mismatches")
        return 1 if mismatches else 0

    return with_pool(work)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from backend.ops.serving import serve

    if args.migrate:
        log.info("migrations: %s", _apply_migrations(settings))
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    settings = msgspec.structs.replace(settings, host=host, port=port, workers=workers)
    if args.seed_demo:
        _seed_demo(settings, argparse.Namespace(new_terminal=False))
    serve(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

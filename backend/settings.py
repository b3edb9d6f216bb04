"""Settings: read once from the environment, validated at start.

Each field is an environment variable ``ASTROCOFFEE_<FIELD>``, except the conventional
connection settings ``DATABASE_URL``, ``REDIS_URL``, ``DATABASE_MIGRATION_URL``,
``DATABASE_PGBOUNCER`` (which ``db`` reads itself too) and ``REDIS_CLUSTER``. With both URLs
unset the service runs on embedded servers (see ``db.embedded``); production refuses that,
development secrets and development-only switches.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

from backend.local_time import is_zone
from backend.push import development as push_dev

# Marked as what it is: a development default, refused in production.
DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105
DEV_WEBHOOK_SECRET = "dev-only-insecure-webhook-secret"  # noqa: S105
# Development defaults: the fakes that `make run` starts (tests/fakes), so that a command in
# a new shell (`astrocoffee reconcile`, `worker`) finds them without the exports of
# deploy/dev/run.sh. Applied only when ASTROCOFFEE_ENVIRONMENT is development (the default):
# production starts only with the real systems' addresses, and refuses these tokens.
# A system's URL and token are defaulted together, never a development token sent to an
# address that was set.
DEV_EXTERNAL_SYSTEMS = {
    "accounting": ("http://127.0.0.1:8091", "accounting-token"),
    "payment_provider": ("http://127.0.0.1:8092", "provider-token"),
}
# The push providers' development credentials (backend.push.development: the fakes accept
# them), filled in as a group where none of the group is set, in development only.
DEV_PUSH_CREDENTIALS: dict[str, dict[str, str]] = {
    "web push": {
        "push_vapid_private_key": push_dev.DEV_VAPID_PRIVATE_KEY,
        "push_vapid_subject": push_dev.DEV_VAPID_SUBJECT,
    },
    "FCM": {
        "push_fcm_service_account": push_dev.DEV_FCM_SERVICE_ACCOUNT,
        "push_fcm_url": push_dev.DEV_FCM_URL,
    },
    "APNs": {
        "push_apns_key": push_dev.DEV_APNS_KEY,
        "push_apns_key_id": push_dev.DEV_APNS_KEY_ID,
        "push_apns_team_id": push_dev.DEV_APNS_TEAM_ID,
        "push_apns_topic": push_dev.DEV_APNS_TOPIC,
        "push_apns_url": push_dev.DEV_APNS_URL,
    },
}
_PUSH_SECRETS = ("push_vapid_private_key", "push_fcm_service_account", "push_apns_key")
_PREFIX = "ASTROCOFFEE_"
_UNPREFIXED = (
    "database_url",
    "redis_url",
    "database_migration_url",
    "database_pgbouncer",
    "redis_cluster",
)

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Positive = Annotated[int, msgspec.Meta(gt=0)]


class SettingsError(ValueError):
    """The environment does not describe a service that may start."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    environment: Literal["development", "test", "production"] = "development"
    database_url: str | None = None
    redis_url: str | None = None
    # DATABASE_URL points at PgBouncer in transaction mode (db.pgbouncer). Migrations then
    # need a direct URL of the primary: their lock is a session advisory lock, which a
    # transaction-mode pooler would leave on whichever server connection it happened to use.
    database_pgbouncer: bool = False
    database_migration_url: str | None = None
    # REDIS_URL names one node of a Redis Cluster (7.0+), which the client discovers from it:
    # sharded pub/sub and hash-tagged keys (realtime.redis_mode, docs/deploy.md).
    redis_cluster: bool = False
    data_dir: str = ".data"
    host: str = "127.0.0.1"
    port: Port = 8000
    workers: Positive = 1
    # Proxies whose X-Forwarded-For is believed (nginx); "*" trusts any (only behind one).
    forwarded_allow_ips: str = "127.0.0.1"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Log what held the event loop when it ran this many ms late (backend.ops.loop_watch);
    # 0 is off. Its lag histogram is on /metrics either way.
    loop_stall_ms: Annotated[int, msgspec.Meta(ge=0, le=60_000)] = 0
    secret_key: Annotated[str, msgspec.Meta(min_length=32)] = DEV_SECRET_KEY
    # A fixed one-time code accepted for every phone: development only.
    dev_otp_code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")] | None = None
    # SMS gateway for one-time codes; unset means codes are only logged (development only).
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = None
    # The sales-accounting system (outbox deliveries) and the payment provider (app orders).
    accounting_url: str | None = None
    accounting_token: str | None = None
    payment_provider_url: str | None = None
    payment_provider_token: str | None = None
    payment_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=30)] = 5.0
    # Outbox worker: batch size, attempts before a dead letter, its own /metrics port (0: none).
    outbox_batch_size: Annotated[int, msgspec.Meta(ge=1, le=500)] = 20
    outbox_max_attempts: Positive = 10
    outbox_backoff_base_s: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    worker_metrics_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 9101
    # ``astrocoffee partner-webhooks``'s own /metrics (0: none).
    partner_worker_metrics_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 9103
    # ``astrocoffee push-worker``'s own /metrics (0: none).
    push_worker_metrics_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 9104
    # HMAC secret of payment provider webhooks; the previous one is accepted while rotating.
    payment_webhook_secret: Annotated[str, msgspec.Meta(min_length=16)] = DEV_WEBHOOK_SECRET
    payment_webhook_secret_previous: str | None = None
    auth_rate_limit_per_minute: Positive = 30
    pos_rate_limit_per_minute: Positive = 1200
    otp_sends_per_phone: Positive = 5
    otp_send_window_s: Positive = 900
    redis_prefix: str = "ac:"
    # The program's home zone: stores that existed before stores had zones, and members who
    # have neither chosen a zone nor bought anywhere yet, keep time in it.
    program_time_zone: str = "Europe/Moscow"
    access_token_ttl_s: Positive = 900
    refresh_token_ttl_s: Positive = 30 * 24 * 3600
    otp_ttl_s: Positive = 300
    otp_max_attempts: Positive = 5
    idempotency_ttl_h: Annotated[int, msgspec.Meta(ge=24)] = 48
    # Audit trail entries older than this are purged by the periodic jobs; the database
    # refuses to delete any younger than 30 days whatever this says.
    audit_retention_days: Annotated[int, msgspec.Meta(ge=30)] = 3 * 365
    # A staff account is locked for staff_lockout_s after this many wrong passwords within
    # staff_login_failure_window_s (an admin may unlock it sooner).
    staff_login_max_failures: Positive = 5
    staff_login_failure_window_s: Positive = 900
    staff_lockout_s: Positive = 900
    # Limits on one employee. Baristas find members by card or QR only unless this is set.
    barista_phone_lookup: bool = False
    # A manager's adjustment above this many points (either way), or one that takes their
    # day's total (in the program's zone) above the daily limit, waits for a second staff
    # member's approval before it reaches the ledger.
    adjustment_max_points: Positive = 5_000
    adjustment_daily_points: Positive = 20_000
    # One sale's amount (minor units) at a store that sets no maximum of its own.
    max_sale_amount: Positive = 10_000_000
    # Delivered outbox messages are kept this long (by business date), for `reconcile`.
    outbox_retention_days: Annotated[int, msgspec.Meta(ge=35)] = 400
    # Hold sweeper, pending release, expiry, idempotency purge, tiers; 0 turns it off. Serving
    # processes run it too unless it is 0 for them (deployments run `astrocoffee scheduler`).
    maintenance_interval_s: Annotated[int, msgspec.Meta(ge=0)] = 30
    # The scheduler's own /metrics port (0: none).
    scheduler_metrics_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 9102
    ws_auth_timeout_s: Positive = 5
    ws_heartbeat_s: Positive = 25
    ws_queue_size: Positive = 256
    ws_max_frame_bytes: Positive = 4096
    # On SIGTERM a serving process closes its WebSockets (1012) spread over this many seconds
    # before uvicorn's shutdown, so their reconnects do not land on the other pods at once
    # (realtime/drain.py); 0 closes them all at once. Kubernetes: within the grace period.
    ws_drain_window_s: Annotated[int, msgspec.Meta(ge=0)] = 10
    # Push providers (backend.push, docs/notifications.md); a provider whose credentials are
    # unset is off. Web Push: the VAPID private key (base64url of the P-256 scalar, or DER)
    # and the contact the push services see (mailto: or https:).
    push_vapid_private_key: str | None = None
    push_vapid_subject: str | None = None
    # FCM HTTP v1: the service account's JSON file's content; the API's base URL.
    push_fcm_service_account: str | None = None
    push_fcm_url: str = "https://fcm.googleapis.com"
    # APNs token authentication: the .p8 key's PEM, its key id, the team, the app's bundle id.
    push_apns_key: str | None = None
    push_apns_key_id: str | None = None
    push_apns_team_id: str | None = None
    push_apns_topic: str | None = None
    push_apns_url: str = "https://api.push.apple.com"
    push_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 10.0
    # At most this many push notifications a member's local day; more wait for the next day
    # (backend.push.daily_cap, docs/notifications.md).
    push_daily_cap: Annotated[int, msgspec.Meta(ge=1)] = 5
    # A member is told of points expiring within this many days, on their local morning
    # (backend.push.scheduled_kinds, docs/notifications.md).
    push_expiry_notice_days: Annotated[int, msgspec.Meta(ge=1, le=60)] = 7

    def __post_init__(self) -> None:
        if (self.database_url is None) != (self.redis_url is None):
            raise SettingsError(
                "set both DATABASE_URL and REDIS_URL (external servers) or neither "
                "(embedded development servers)"
            )
        if self.redis_cluster and self.redis_url is None:
            raise SettingsError("REDIS_CLUSTER is set but REDIS_URL (a node of it) is not")
        if self.database_pgbouncer and self.database_url is None:
            raise SettingsError("DATABASE_PGBOUNCER is set but DATABASE_URL is not")
        if self.database_pgbouncer and self.database_migration_url == self.database_url:
            raise SettingsError(
                "DATABASE_MIGRATION_URL is DATABASE_URL, which points at PgBouncer "
                "(DATABASE_PGBOUNCER): migrations need the primary itself"
            )
        if not is_zone(self.program_time_zone):
            raise SettingsError(
                f"ASTROCOFFEE_PROGRAM_TIME_ZONE: {self.program_time_zone!r} is not an IANA zone"
            )
        if self.environment != "production":
            return
        problems = []
        if self.database_url is None:
            problems.append("embedded servers are for development: set DATABASE_URL and REDIS_URL")
        if self.database_pgbouncer and self.database_migration_url is None:
            problems.append(
                "DATABASE_PGBOUNCER is set without DATABASE_MIGRATION_URL (the primary itself, "
                "which migrations need)"
            )
        if self.secret_key == DEV_SECRET_KEY:
            problems.append("ASTROCOFFEE_SECRET_KEY is the development default")
        if self.dev_otp_code is not None:
            problems.append("ASTROCOFFEE_DEV_OTP_CODE is a development-only switch")
        if self.sms_gateway_url is None:
            problems.append("ASTROCOFFEE_SMS_GATEWAY_URL is unset (codes would only be logged)")
        if self.accounting_url is None:
            problems.append("ASTROCOFFEE_ACCOUNTING_URL is unset (sales would not be booked)")
        if self.payment_provider_url is None:
            problems.append("ASTROCOFFEE_PAYMENT_PROVIDER_URL is unset (app orders cannot pay)")
        for system, (_, dev_token) in DEV_EXTERNAL_SYSTEMS.items():
            if getattr(self, f"{system}_token") == dev_token:
                problems.append(f"{_PREFIX}{system.upper()}_TOKEN is the development default")
        if self.payment_webhook_secret == DEV_WEBHOOK_SECRET:
            problems.append("ASTROCOFFEE_PAYMENT_WEBHOOK_SECRET is the development default")
        for group in DEV_PUSH_CREDENTIALS.values():
            problems.extend(
                f"{_PREFIX}{name.upper()} is the development default"
                for name in _PUSH_SECRETS
                if name in group and getattr(self, name) == group[name]
            )
        if problems:
            raise SettingsError("refusing to start in production: " + "; ".join(problems))

    @property
    def uses_embedded_servers(self) -> bool:
        return self.database_url is None

    @property
    def migration_url(self) -> str:
        """Where migrations run: the primary itself, never through PgBouncer."""
        if self.database_migration_url is not None:
            return self.database_migration_url
        if self.database_pgbouncer:
            raise SettingsError(
                "DATABASE_URL points at PgBouncer (DATABASE_PGBOUNCER): set "
                "DATABASE_MIGRATION_URL to the primary itself for migrations"
            )
        assert self.database_url is not None
        return self.database_url

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        previous = self.payment_webhook_secret_previous
        return (self.payment_webhook_secret,) + ((previous,) if previous else ())


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    raw: dict[str, str] = {}
    for field in Settings.__struct_fields__:
        name = field.upper() if field in _UNPREFIXED else _PREFIX + field.upper()
        value = env.get(name)
        if value is not None and value != "":
            raw[field] = value
    if raw.get("environment", "development") == "development":
        for system, (url, token) in DEV_EXTERNAL_SYSTEMS.items():
            if f"{system}_url" not in raw and f"{system}_token" not in raw:
                raw.update({f"{system}_url": url, f"{system}_token": token})
        for group in DEV_PUSH_CREDENTIALS.values():
            if not raw.keys() & group.keys():
                raw.update(group)
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid settings: {exc}") from exc

"""``create_app``: wiring only. Every piece is built here once and handed to what uses it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from litestar import Litestar, Router, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import YamlRenderPlugin
from prometheus_client import multiprocess

from backend.accounting.books import ExternalSystems, accounting_client, payment_provider
from backend.accounting.controllers import AdminOutboxController
from backend.accounting.documents import use_program_zone
from backend.accounting.outbox import sample_outbox_figures
from backend.api_document import complete_document
from backend.audit.controllers import AdminAuditController
from backend.auth.access import allow, authorize
from backend.auth.callers import Role
from backend.auth.controllers import AuthController, MySessionsController, StaffLoginController
from backend.auth.middleware import build_auth
from backend.auth.otp import LoggingOtpSender, OtpSender, OtpService
from backend.auth.service import AuthService
from backend.auth.sessions import SessionStore
from backend.auth.sms import HttpSmsSender
from backend.auth.terminals import TerminalDirectory
from backend.auth.tokens import TokenIssuer
from backend.campaigns.catalogue import Catalogue
from backend.campaigns.controllers import AdminCampaignController, MyOffersController
from backend.campaigns.offers import MemberOffers
from backend.campaigns.report_controllers import CampaignReportController
from backend.campaigns.service import CampaignAdmin
from backend.http import check_write_body, security_headers
from backend.jobs.scheduler import MaintenanceLoop
from backend.loyalty.adjustments import AdjustmentLimits
from backend.loyalty.controllers import AdminApprovalsController, AdminRulesController
from backend.members.controllers import AdminMembersController, MeController
from backend.members.erasure import MemberErasure
from backend.members.qr import QrTokens
from backend.members.rights_controllers import AdminMemberRightsController, MyDataController
from backend.members.service import enrol_or_get_member
from backend.ops.garbage import freeze_startup_objects
from backend.ops.health import HealthController, dependencies_ready
from backend.ops.logging import configure_logging
from backend.ops.loop_watch import LoopWatch
from backend.ops.metrics import PROMETHEUS, MetricsController
from backend.ops.request_id import request_id_middleware
from backend.ops.sampler import ProcessSampler
from backend.orders.controllers import OrderController
from backend.orders.service import OrderService
from backend.orders.webhook_controller import PaymentWebhookController
from backend.orders.webhooks import WebhookService
from backend.partners.addresses import AddressPolicy
from backend.partners.controllers import AdminPartnerWebhooksController
from backend.partners.delivery import sample_partner_figures
from backend.partners.endpoints import PartnerEndpoints
from backend.problems import EXCEPTION_HANDLERS
from backend.products.controllers import AdminCatalogueController
from backend.push.admin import AdminPushController
from backend.push.controllers import MyDevicesController, WebPushKeyController
from backend.push.setup import PushSetup
from backend.rate_limits import COUNTER_STATE_KEY, RequestCounter, per_client_ip, per_terminal
from backend.realtime_wiring import StreamAuthenticator
from backend.sales.customers import CustomerResolver
from backend.settings import Settings, SettingsError, load_settings
from backend.staff.controllers import AdminStaffController, StaffMeController
from backend.staff.logins import LoginLockout, check_login
from backend.stores.controllers import AdminStoreController
from backend.stores.report_controllers import ChainReportsController, StoreReportsController
from backend.stores.sale_cap import use_program_sale_cap
from backend.streams.replay import StoredEvents
from backend.till.admin_controllers import PurchaseAdminController
from backend.till.checkouts import CheckoutService
from backend.till.controllers import CheckoutController, PurchaseController
from backend.till.purchases import PurchaseService
from backend.till.refunds import RefundService
from backend.web.routes import web_routes
from backend.web.schema_viewer import SCHEMA_HEADERS, SCHEMA_PATH, SchemaViewer
from db.pool import close_pool, start_pool
from realtime.asyncapi import asyncapi_document
from realtime.drain import SocketDrain
from realtime.gateway import GatewayConfig, create_gateway
from realtime.hub import Hub
from realtime.live_sockets import LiveSockets
from realtime.publisher import EventPublisher
from realtime.redis_mode import connect_redis

API_VERSION = "1.0.0"
TITLE = "Astrocoffee loyalty API"
MAX_BODY_BYTES = 64 * 1024
# Connections per process (per node of a cluster); on one server more callers wait (up to
# 5 s) for one.
REDIS_POOL_SIZE = 100


def create_app(
    settings: Settings | None = None, *, otp_sender: OtpSender | None = None
) -> Litestar:
    settings = settings or load_settings()
    # Also runs in each uvicorn worker process, which starts with logging unconfigured.
    configure_logging(settings.log_level)
    # Store-less accounting documents are dated in the program's zone.
    use_program_zone(settings.program_time_zone)
    use_program_sale_cap(settings.max_sale_amount)
    if settings.redis_url is None or settings.database_url is None:
        raise SettingsError(
            "create_app needs DATABASE_URL and REDIS_URL; `astrocoffee serve` starts embedded "
            "servers and sets them when they are missing"
        )
    # One server, or a cluster that REDIS_URL is a node of (realtime.redis_mode).
    redis = connect_redis(
        settings.redis_url, cluster=settings.redis_cluster, max_connections=REDIS_POOL_SIZE
    )
    prefix = settings.redis_prefix
    hub = Hub(redis=redis, prefix=prefix)
    # Devices' open sockets, so that push does not tell what a socket showed (#21).
    live_sockets = LiveSockets(redis, prefix=prefix)
    sessions = SessionStore(redis=redis, prefix=prefix, ttl_s=settings.refresh_token_ttl_s)
    tokens = TokenIssuer(secret=settings.secret_key, ttl_s=settings.access_token_ttl_s)
    sms = _sms_sender(settings) if otp_sender is None else otp_sender
    otp = OtpService(
        redis=redis,
        sender=sms,
        secret=settings.secret_key,
        prefix=prefix,
        ttl_s=settings.otp_ttl_s,
        max_attempts=settings.otp_max_attempts,
        sends_per_phone=settings.otp_sends_per_phone,
        send_window_s=settings.otp_send_window_s,
        fixed_code=settings.dev_otp_code,
    )
    qr_tokens = QrTokens(redis=redis, prefix=prefix)
    terminals = TerminalDirectory(redis=redis, prefix=prefix)
    publisher = EventPublisher(redis=redis, prefix=prefix)
    customers = CustomerResolver(qr_tokens=qr_tokens)
    provider = payment_provider(settings)
    accounting = accounting_client(settings)
    catalogue = Catalogue(redis=redis, prefix=prefix)
    orders = OrderService(provider=provider, publisher=publisher, catalogue=catalogue)
    books = (
        ExternalSystems(accounting=accounting, provider=provider)
        if accounting is not None and provider is not None
        else None
    )
    maintenance = MaintenanceLoop.for_settings(
        settings, redis=redis, publisher=publisher, orders=orders, catalogue=catalogue
    )
    services: dict[str, Any] = {
        "push_setup": PushSetup.for_settings(settings),
        "campaign_admin": CampaignAdmin(catalogue=catalogue, publisher=publisher),
        "member_offers": MemberOffers(
            catalogue=catalogue,
            publisher=publisher,
            program_time_zone=settings.program_time_zone,
        ),
        "auth_service": AuthService(
            otp=otp,
            sessions=sessions,
            tokens=tokens,
            enrol_member=enrol_or_get_member,
            check_staff_login=partial(
                check_login,
                lockout=LoginLockout(
                    max_failures=settings.staff_login_max_failures,
                    window_s=settings.staff_login_failure_window_s,
                    lockout_s=settings.staff_lockout_s,
                ),
            ),
        ),
        "purchase_service": PurchaseService(
            customers=customers, publisher=publisher, catalogue=catalogue
        ),
        "checkout_service": CheckoutService(
            customers=customers, publisher=publisher, catalogue=catalogue
        ),
        "refund_service": RefundService(publisher=publisher),
        "publisher": publisher,
        "webhook_service": WebhookService(
            redis=redis,
            prefix=prefix,
            secrets=settings.webhook_secrets,
            on_payment_event=orders.on_payment_event,
        ),
        "order_service": orders,
        "external_books": books,
        "qr_tokens": qr_tokens,
        "member_erasure": MemberErasure(otp=otp, sessions=sessions, qr_tokens=qr_tokens),
        "terminal_directory": terminals,
        "partner_endpoints": PartnerEndpoints(
            addresses=AddressPolicy.for_environment(settings.environment)
        ),
        "program_time_zone": settings.program_time_zone,
        "barista_phone_lookup": settings.barista_phone_lookup,
        "adjustment_limits": AdjustmentLimits(
            max_points=settings.adjustment_max_points,
            daily_points=settings.adjustment_daily_points,
        ),
    }
    # On SIGTERM the sockets are closed over a window before uvicorn's shutdown (realtime.drain).
    drain = SocketDrain(window_s=settings.ws_drain_window_s)
    gateway = create_gateway(
        hub=hub,
        authenticate=StreamAuthenticator(tokens=tokens, sessions=sessions),
        replay=StoredEvents(),
        config=GatewayConfig(
            auth_timeout_s=settings.ws_auth_timeout_s,
            queue_size=settings.ws_queue_size,
            max_frame_bytes=settings.ws_max_frame_bytes,
        ),
        route_opt=allow(Role.ANONYMOUS),  # authenticates by itself, see realtime.gateway
        drain=drain,
        live=live_sockets,
    )
    sampler = ProcessSampler(
        is_ready=lambda: dependencies_ready(redis),
        also=[sample_outbox_figures, sample_partner_figures],
        redis=redis,
    )
    loop_watch = LoopWatch(stall_ms=settings.loop_stall_ms)
    auth = build_auth(settings.secret_key)
    asyncapi = asyncapi_document(title=TITLE + " (WebSocket)", version=API_VERSION)

    @get("/asyncapi.json", opt=allow(Role.ANONYMOUS), include_in_schema=False)
    async def asyncapi_json() -> dict[str, Any]:
        return asyncapi

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await start_pool()
        await hub.start()
        await maintenance.start()
        await sampler.start()
        await loop_watch.start()
        freeze_startup_objects()
        drain.drain_on_sigterm()  # over uvicorn's handler, installed before the lifespan
        try:
            yield
        finally:
            await loop_watch.stop()
            await sampler.stop()
            await maintenance.stop()
            await hub.stop()
            if isinstance(sms, HttpSmsSender):
                await sms.aclose()
            for client in (provider, accounting):
                if client is not None:
                    await client.aclose()
            await redis.aclose()
            await close_pool()
            if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
                # This worker's live gauges stop counting (multiprocess mode, see backend.cli).
                multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    login_routes = Router(
        path="/",
        route_handlers=[AuthController, StaffLoginController],
        middleware=[per_client_ip(settings.auth_rate_limit_per_minute).middleware],
    )
    pos_limit = per_terminal(settings.pos_rate_limit_per_minute)
    pos_routes = Router(
        path="/",
        route_handlers=[PurchaseController, CheckoutController],
        middleware=[pos_limit.middleware],
        opt=pos_limit.opt,  # a terminal's request is counted as its key is looked up
    )
    app = Litestar(
        route_handlers=[
            HealthController,
            login_routes,
            pos_routes,
            MeController,
            MyDataController,
            MySessionsController,
            StaffMeController,
            AdminStaffController,
            AdminAuditController,
            AdminStoreController,
            StoreReportsController,
            ChainReportsController,
            PurchaseAdminController,
            AdminRulesController,
            AdminApprovalsController,
            AdminMembersController,
            AdminMemberRightsController,
            PaymentWebhookController,
            OrderController,
            AdminOutboxController,
            AdminPartnerWebhooksController,
            AdminPushController,
            AdminCampaignController,
            CampaignReportController,
            AdminCatalogueController,
            MyOffersController,
            MyDevicesController,
            WebPushKeyController,
            web_routes(),
            MetricsController,
            gateway,
            asyncapi_json,
        ],
        guards=[authorize],
        before_request=check_write_body,
        before_send=[security_headers],
        dependencies={
            name: Provide(_constant(service), sync_to_thread=False)
            for name, service in services.items()
        },
        state=State(
            {
                "settings": settings,
                "redis": redis,
                "hub": hub,
                "live_sockets": live_sockets,
                "sessions": sessions,
                "terminals": terminals,
                "orders": orders,
                "catalogue": catalogue,
                COUNTER_STATE_KEY: RequestCounter(redis, prefix=f"{prefix}ratelimit:"),
            }
        ),
        middleware=[request_id_middleware, PROMETHEUS.middleware, auth.middleware],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title=TITLE,
            version=API_VERSION,
            # Public documents; the router's options carry the access rule to their handlers.
            openapi_router=Router(
                path=SCHEMA_PATH,
                route_handlers=[],
                opt=allow(Role.ANONYMOUS),
                include_in_schema=False,
                response_headers=SCHEMA_HEADERS,
            ),
            # Swagger UI from this origin (no CDN), the document as JSON and YAML.
            render_plugins=[SchemaViewer(), YamlRenderPlugin()],
            components=[auth.openapi_components],
            security=[auth.security_requirement],
        ),
        request_max_body_size=MAX_BODY_BYTES,
        debug=False,
        logging_config=None,  # Ours (JSON, request ids) is already in place.
    )
    complete_document(app)
    return app


def _sms_sender(settings: Settings) -> OtpSender:
    if settings.sms_gateway_url is None:
        return LoggingOtpSender()
    return HttpSmsSender(url=settings.sms_gateway_url, token=settings.sms_gateway_token)


def _constant(value: Any) -> Any:
    def provide() -> Any:
        return value

    return provide

"""Composition root: `create_app(settings)` builds the services; nothing lives in globals."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.abuse.detection import Floors, keep_detecting
from aisonar.abuse.tallies import RefusedKeys
from aisonar.accounts.expiry import keep_noticing_expiring_keys
from aisonar.alerts.evaluation import keep_evaluating_alerts
from aisonar.alerts.history import forget_before
from aisonar.analytics.page_views import delete_views_before
from aisonar.api.app import create_api
from aisonar.billing.ledger import durable_balance
from aisonar.billing.ledger_writer import LedgerWriter
from aisonar.billing.memory_store import MemoryBalanceStore
from aisonar.billing.prices import PriceBook, load_operator_prices
from aisonar.billing.store import BalanceStore, DurableBalance
from aisonar.billing.throttle import FailureWindow
from aisonar.channels.models import ChannelTimeouts, ChannelWithSecret
from aisonar.clock import utcnow
from aisonar.config import Settings, split_list
from aisonar.console.mount import add_console
from aisonar.crypto import SecretBox
from aisonar.gateway.admission import Limiter
from aisonar.gateway.asgi import GatewayApp, Runtime
from aisonar.gateway.auth import KeyCache
from aisonar.gateway.cache_sync import (
    CacheRefresher,
    current_change_id,
    follow_changes,
    load_channels,
)
from aisonar.gateway.charging import Billing
from aisonar.gateway.counters import Counters, LocalCounters
from aisonar.gateway.failover import FailoverPolicy
from aisonar.gateway.health import ChannelHealth
from aisonar.gateway.prober import ChannelStateLog, keep_probing
from aisonar.gateway.quotas import SpendQuotas
from aisonar.gateway.routing import ChannelTable
from aisonar.gateway.services import GatewayServices
from aisonar.gateway.signers import Signers
from aisonar.gateway.upstream import new_upstream_session
from aisonar.ingest import routes as ingest_routes
from aisonar.limits.memory_spend import MemorySpendStore
from aisonar.limits.memory_store import MemoryLimitStore
from aisonar.limits.models import Subject
from aisonar.limits.spend import Period, SpendStore
from aisonar.limits.spent import spent_in_period
from aisonar.limits.store import LimitStore
from aisonar.notify.sender import Notifier, RetryPolicy, configured_mail
from aisonar.notify.webhook_client import WebhookClient
from aisonar.observability.loop_lag import keep_measuring_lag
from aisonar.observability.metrics import GatewayMetrics
from aisonar.observability.vitals import GatewayVitals
from aisonar.privacy.erasure_job import keep_erasing
from aisonar.privacy.policies import RESUME_INTERVAL_S, keep_announcing
from aisonar.store.engine import create_engine
from aisonar.usage.compaction import compact_on_stopping, keep_compacting
from aisonar.usage.partitions import ensure_partitions
from aisonar.usage.retention import RetentionPolicy, keep_retaining
from aisonar.usage.tokens import load_token_tables
from aisonar.usage.writer import UsageWriter

if TYPE_CHECKING:
    from aisonar.observability.otlp import OtlpExport

log = logging.getLogger(__name__)

_GC_THRESHOLDS = (100_000, 50, 100)
_EXPIRY_SCAN_INTERVAL_S = 300.0


def hold_ttl_s(settings: Settings) -> float:
    """A hold (or slot) outlives any request it can belong to, then expires if its
    process died."""
    return settings.upstream_total_timeout_s + 60


def balance_store(settings: Settings, engine: AsyncEngine) -> BalanceStore:
    async def load(org_id: str) -> DurableBalance:
        async with engine.connect() as conn:
            return await durable_balance(conn, org_id)

    if settings.redis_url:
        from aisonar.billing.redis_store import RedisBalanceStore

        return RedisBalanceStore(settings.redis_url, load, hold_ttl_s=hold_ttl_s(settings))
    return MemoryBalanceStore(load)


def spend_store(settings: Settings, engine: AsyncEngine, hold_ttl_s: float) -> SpendStore:
    async def load(counted: Subject, period: Period) -> int:
        async with engine.connect() as conn:
            return await spent_in_period(conn, counted, period)

    if settings.redis_url:
        from aisonar.limits.redis_spend import RedisSpendStore

        return RedisSpendStore(settings.redis_url, load, hold_ttl_s=hold_ttl_s)
    return MemorySpendStore(load)


async def build_billing(
    settings: Settings, engine: AsyncEngine, metrics: GatewayMetrics
) -> Billing:
    async with engine.connect() as conn:
        prices = PriceBook(await load_operator_prices(conn))
    quotas = SpendQuotas(
        spend_store(settings, engine, hold_ttl_s(settings)),
        metrics,
        fail_open=settings.spend_quotas_fail_open,
    )
    return Billing(
        store=balance_store(settings, engine),
        prices=prices,
        ledger=LedgerWriter(engine, flush_interval_s=settings.ledger_flush_interval_s),
        default_max_output_tokens=settings.default_max_output_tokens,
        redeem_failures=FailureWindow(settings.redeem_failures_per_hour),
        payment_webhook_secret=settings.payment_webhook_secret,
        currency=settings.currency,
        quotas=quotas,
        enabled=settings.billing_enabled,
    )


def limit_store(settings: Settings) -> LimitStore:
    if settings.redis_url:
        from aisonar.limits.redis_store import RedisLimitStore

        return RedisLimitStore(settings.redis_url)
    return MemoryLimitStore()


def request_counters(
    settings: Settings, limits: LimitStore, spend: SpendStore, balance: BalanceStore
) -> Counters:
    """One script per call on Redis; the stores' own calls in-process."""
    if settings.redis_url:
        from aisonar.billing.redis_store import RedisBalanceStore
        from aisonar.gateway.redis_counters import RedisCounters
        from aisonar.limits.redis_spend import RedisSpendStore
        from aisonar.limits.redis_store import RedisLimitStore

        assert isinstance(limits, RedisLimitStore) and isinstance(spend, RedisSpendStore)
        assert isinstance(balance, RedisBalanceStore)
        return RedisCounters(settings.redis_url, limits, spend, balance)
    return LocalCounters(limits, spend, balance)


def build_notifier(
    settings: Settings, engine: AsyncEngine, box: SecretBox, metrics: GatewayMetrics
) -> Notifier:
    mail = configured_mail(settings)
    if mail is None:
        log.info("email notices are off: AISONAR_SMTP_URL is not set")
    return Notifier(
        engine,
        box,
        mail=mail,
        webhooks=WebhookClient(
            timeout_s=settings.webhook_timeout_s,
            allow_private_networks=settings.webhook_allow_private_networks,
        ),
        retry=RetryPolicy(
            max_attempts=settings.notify_max_attempts,
            first_delay_s=settings.notify_retry_first_s,
            max_delay_s=settings.notify_retry_max_s,
        ),
        currency=settings.currency,
        deliveries=metrics.notice_deliveries,
        poll_interval_s=settings.notify_poll_interval_s,
        lease_s=settings.webhook_timeout_s + settings.smtp_timeout_s + 60,
    )


def start_otlp_export(
    settings: Settings, metrics: GatewayMetrics, vitals: GatewayVitals
) -> OtlpExport | None:
    """The OTLP export, when an endpoint is set; else nothing of OpenTelemetry is loaded."""
    if not settings.otlp_endpoint:
        return None
    from aisonar.observability.otlp import OtlpExport

    export = OtlpExport(settings, metrics.requests, vitals)
    metrics.export = export
    return export


def create_app(settings: Settings) -> GatewayApp:
    @asynccontextmanager
    async def lifespan(runtime: Runtime) -> AsyncIterator[None]:
        settings.make_data_dir()
        box = SecretBox(settings.resolved_secret_key(), settings.secret_key_previous)
        engine = create_engine(settings.resolved_database_url, **settings.engine_options())
        read_engine = engine
        if settings.database_read_url:
            read_engine = create_engine(
                settings.resolved_read_database_url, **settings.engine_options()
            )
        refused = RefusedKeys() if settings.abuse_detection else None
        keys = KeyCache(engine, settings.key_cache_size, refused)
        since = await current_change_id(engine)
        await ensure_partitions(engine, utcnow().date())
        metrics = GatewayMetrics(settings.tenant_labels, settings.currency)
        billing = await build_billing(settings, engine, metrics)
        session = new_upstream_session(
            connect_timeout_s=settings.upstream_connect_timeout_s,
            total_timeout_s=settings.upstream_total_timeout_s,
            max_connections=settings.upstream_max_connections,
        )
        default_timeouts = ChannelTimeouts(
            connect_s=settings.upstream_connect_timeout_s,
            first_byte_s=settings.upstream_first_byte_timeout_s,
            total_s=settings.upstream_total_timeout_s,
        )
        health = ChannelHealth(
            window_s=settings.channel_breaker_window_s,
            min_requests=settings.channel_breaker_min_requests,
            failure_percent=settings.channel_breaker_failure_percent,
            min_keys=settings.channel_breaker_min_keys,
            base_cooldown_s=settings.channel_cooldown_s,
            max_cooldown_s=settings.channel_max_cooldown_s,
        )

        signers = Signers()

        def table(channels: list[ChannelWithSecret]) -> ChannelTable:
            return ChannelTable(channels, health, default_timeouts, signers)

        writer = UsageWriter(
            engine,
            batch_size=settings.usage_batch_size,
            flush_interval_s=settings.usage_flush_interval_s,
            max_pending=settings.usage_queue_size,
        )
        limits = limit_store(settings)
        counters = request_counters(settings, limits, billing.quotas.store, billing.store)
        services = GatewayServices(
            engine=engine,
            read_engine=read_engine,
            keys=keys,
            channels=table(await load_channels(engine, box)),
            session=session,
            max_body_bytes=settings.max_body_bytes,
            billing=billing,
            failover=FailoverPolicy(
                health=health,
                max_attempts=settings.failover_max_attempts,
                metrics=metrics,
            ),
            metrics=metrics,
            counters=counters,
            limiter=Limiter(
                limits,
                metrics,
                slot_ttl_s=hold_ttl_s(settings),
                fail_open=settings.rate_limits_fail_open,
            ),
            writer=writer,
        )
        health.on_change = ChannelStateLog(metrics, lambda: services.channels)
        runtime.services, runtime.writer = services, writer
        # The app counts its requests in flight; the metrics read the count when collected.
        vitals = GatewayVitals(lambda: app._in_flight, writer, lambda: services.channels)
        metrics.watch(vitals)
        otlp_export = start_otlp_export(settings, metrics, vitals)

        def install_channels(channels: list[ChannelWithSecret]) -> None:
            services.channels = table(channels)

        refresher = CacheRefresher(
            engine, box, keys, install_channels, billing.prices, billing.store
        )
        # Off the event loop: the first estimate would otherwise stall it for a second.
        tables_task = asyncio.create_task(asyncio.to_thread(load_token_tables))
        lag_task = asyncio.create_task(keep_measuring_lag(metrics.loop_lag), name="loop-lag")
        writer_task = asyncio.create_task(writer.run(), name="usage-writer")
        ledger_task = asyncio.create_task(billing.ledger.run(), name="ledger-writer")
        sync_task = asyncio.create_task(
            follow_changes(
                engine, refresher, since=since, interval_s=settings.cache_poll_interval_s
            ),
            name="cache-sync",
        )
        probe_task = asyncio.create_task(
            keep_probing(
                health,
                lambda: services.channels,
                session,
                interval_s=settings.channel_probe_interval_s,
            ),
            name="channel-prober",
        )
        notifier = build_notifier(settings, engine, box, metrics)
        notifier_task = asyncio.create_task(notifier.run(), name="notifier")
        expiry_task = asyncio.create_task(
            keep_noticing_expiring_keys(
                engine,
                within=timedelta(days=settings.key_expiry_notice_days),
                interval_s=_EXPIRY_SCAN_INTERVAL_S,
            ),
            name="key-expiry-notices",
        )
        retention_task = asyncio.create_task(
            keep_retaining(
                engine,
                RetentionPolicy.of(settings),
                settings.retention_interval_s,
                forget_site_views=delete_views_before,
                forget_alert_history=forget_before,
            ),
            name="retention",
        )
        compaction_task = asyncio.create_task(
            keep_compacting(engine, interval_s=settings.rollup_compaction_interval_s),
            name="rollup-compaction",
        )
        alerts_task = asyncio.create_task(
            keep_evaluating_alerts(engine, interval_s=settings.alert_interval_s), name="alerts"
        )
        erasure_task = asyncio.create_task(
            keep_erasing(engine, configured_mail(settings), settings.deletion_interval_s),
            name="erasure",
        )
        announcing_task = asyncio.create_task(
            keep_announcing(engine, RESUME_INTERVAL_S), name="policy-announcements"
        )
        detection_task = None
        if refused is not None:
            detection_task = asyncio.create_task(
                keep_detecting(
                    engine, Floors.of(settings), refused, interval_s=settings.abuse_interval_s
                ),
                name="abuse-detection",
            )
        try:
            yield
        finally:
            if detection_task is not None:
                detection_task.cancel()
            background = (lag_task, probe_task, sync_task, notifier_task, expiry_task)
            periodic = (compaction_task, retention_task, alerts_task, erasure_task)
            for task in (*background, *periodic, announcing_task):
                task.cancel()
            await notifier.close()
            await billing.ledger.stop(ledger_task)
            await writer.stop(writer_task)
            await compact_on_stopping(engine)
            if otlp_export is not None:
                await asyncio.to_thread(otlp_export.shutdown)
            await billing.store.close()
            await billing.quotas.store.close()
            await counters.close()
            await services.limiter.store.close()
            await session.close()
            await engine.dispose()
            if read_engine is not engine:
                await read_engine.dispose()
            await tables_task

    app = GatewayApp(
        lifespan,
        split_list(settings.trusted_proxies),
        settings.metrics_token,
        mounted=ingest_routes.ROUTES,
    )
    # The management API and the console side by side on one FastAPI app, which the
    # gateway hands every request it does not serve itself.
    app.web = create_api(app.runtime, settings)
    add_console(app.web)
    return app


def app_from_environment() -> GatewayApp:
    """The factory `aisonar serve --workers N` hands to uvicorn in each worker."""
    app = create_app(Settings())
    tune_collector()
    return app


def tune_collector() -> None:
    """For a server process, once its app is built. What was built by then lives as long
    as the process: frozen out of the collector's sight, its full collections walk only
    what requests left behind, not every module and table (on a loaded heap, a stall of
    tens of ms each). And the youngest generation is collected every 100,000 allocations
    rather than 700: a request's objects then die of their last reference before a
    collection promotes them, instead of piling up in the old generations (bench/README.md:
    a fifth more requests per second at load, a third off the p99). Not in the app's
    lifespan: tests run many apps in one process, whose collector is not theirs."""
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)

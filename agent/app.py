"""The composition root: configuration → token service → prompter → servers (+ tray).

The only module that assembles the agent: ``agent/cli.py`` calls it, and the tray
(:mod:`agent.ui.tray`) receives from it what it needs, never importing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

from agent.audit import AuditLog
from agent.compat.layer import CompatLayer, LayerContext, start_layer
from agent.compat.registry import LAYERS
from agent.config import DEFAULT_PORT_RANGE, AgentConfig
from agent.consent.console import ConsolePrompter
from agent.consent.external import ExternalPrompter, split_command
from agent.consent.gate import GateLimits, PromptGate
from agent.consent.pin_cache import PinCache
from agent.consent.prompter import Prompter
from agent.consent.refusing import RefusingPrompter
from agent.errors import ConfigError
from agent.instance import InstanceLock
from agent.localtls import ca
from agent.messages import Lang, text
from agent.origin import LOCAL_CALLER, OriginPolicy
from agent.pairing import PairingStore
from agent.pdf.process import PdfProcesses
from agent.pdf.trust import TrustRootError, load_trust_roots, windows_store_roots
from agent.protocol import PdfSignRequest
from agent.server import RunningServer, ServerSettings, create_app, start_server
from agent.server.budget import BudgetLimits, MemoryBudget
from agent.server.control import ControlChannel
from agent.server.middlewares import MemoryRelease
from agent.service import SigningService
from agent.session_lock import watch_session_lock
from agent.spool import DIRECTORY_NAME as SPOOL_DIRECTORY
from agent.spool import Spool
from agent.status import StatusSource
from agent.status.model import ListenerStatus
from agent.token import TokenService

log = logging.getLogger(__name__)

#: How often a running agent checks its TLS certificate's end date (seconds).
TLS_CHECK_INTERVAL = 6 * 3600


def make_prompter(config: AgentConfig) -> Prompter:
    """The external command if configured, else the dialog on a desktop, else the console.

    Without any of them every question is refused (and the log says why).
    """
    from agent.ui.display import display_available
    from agent.ui.prompter import DialogPrompter

    if config.prompter:
        argv = split_command(config.prompter)
        if not argv:
            raise ConfigError("prompter: empty command")
        return ExternalPrompter(argv, config.prompt_timeout)
    if display_available():
        return DialogPrompter(config.prompt_timeout)
    if sys.stdin is not None and sys.stdin.isatty():
        return ConsolePrompter(config.prompt_timeout)
    log.warning(text("no_prompter", "en"))
    return RefusingPrompter()


def make_service(
    config: AgentConfig,
    tokens: TokenService,
    prompter: Prompter | None = None,
    audit: AuditLog | None = None,
    spool: Spool | None = None,
) -> SigningService:
    """The signing service for ``config`` (``spool``: the running agent's, see :func:`_spool`)."""
    asker = prompter or make_prompter(config)
    # Nobody can be asked to plug the token in: waiting would only delay the refusal.
    waits = config.wait_for_token and not isinstance(asker, RefusingPrompter)
    return SigningService(
        tokens,
        asker,
        lang=config.lang,
        token_wait=config.prompt_timeout if waits else 0.0,
        gate=PromptGate(GateLimits(backoff_first=config.cancel_backoff_seconds)),
        pairing=PairingStore(config.pairing_file),
        pin_cache=PinCache(config.pin_cache_minutes),
        audit=audit,
        trust_roots=trust_roots(config),
        check_revocation=config.check_revocation,
        font_dir=config.font_dir,
        tsa_url=config.tsa_url,
        pdf_work=PdfProcesses(),
        spool=spool,
    )


def _spool(config: AgentConfig) -> Spool:
    """The spool of uploaded documents, emptied of what a killed agent left there: called with
    the instance lock held, so no other agent's request is using it (:mod:`agent.spool`)."""
    spool = Spool(config.data_dir / SPOOL_DIRECTORY)
    try:
        spool.sweep()
    except OSError as exc:
        raise ConfigError(f"cannot prepare the spool {spool.directory}: {exc.strerror}") from exc
    return spool


def trust_roots(config: AgentConfig) -> tuple[bytes, ...]:
    """Configured root certificates, plus the OS store on Windows."""
    try:
        return load_trust_roots(config.trust_roots) + windows_store_roots()
    except TrustRootError as exc:
        raise ConfigError(str(exc)) from exc


def server_settings(config: AgentConfig) -> ServerSettings:
    """The HTTP layer's share of the configuration."""
    return ServerSettings(
        origin_policy=OriginPolicy(config.allowed_origins, frozenset(config.extension_ids)),
        max_body_bytes=config.max_body_bytes,
        lang=config.lang,
        allow_user_pairing=config.allow_user_pairing,
        max_pdf_bytes=config.max_pdf_bytes,
        tsa_url=config.tsa_url,
    )


def listen_ports(config: AgentConfig) -> list[int]:
    """The port to use, or the default range to try in order."""
    return [config.port] if config.port is not None else list(DEFAULT_PORT_RANGE)


async def _keep_tls_fresh(
    files: ca.TlsFiles, context: ssl.SSLContext, *, trust_ca: bool = False
) -> None:
    """An agent that runs for months renews its certificate without a restart."""
    while True:
        await asyncio.sleep(TLS_CHECK_INTERVAL)
        try:
            renewed = ca.renew_if_needed(files, context)
        except (OSError, ValueError, ssl.SSLError):
            log.exception("renewing the local TLS certificate failed; will try again")
            continue
        if renewed and trust_ca:
            await asyncio.to_thread(_trust_once, files)


def _trust_once(files: ca.TlsFiles) -> None:
    """This user's stores trust the local CA (:func:`agent.localtls.stores.trust_once`);
    imported here, on the thread that runs it: ``serve`` does not load the store code."""
    from agent.localtls.stores import trust_once

    trust_once(files)


@dataclass(frozen=True)
class StartedAgent:
    """A running agent's parts, for a companion living beside the server (the tray)."""

    server: RunningServer
    """The listening server."""
    service: SigningService
    """The signing service (consent, PIN, token) the API uses."""
    tokens: TokenService
    """The token layer (one worker per module)."""
    status: StatusSource
    """What the status report is built from."""


async def serve(
    config: AgentConfig,
    *,
    prompter: Prompter | None = None,
    on_ready: Callable[[RunningServer], None] | None = None,
    on_layer: Callable[[str, str], None] | None = None,
    stop: asyncio.Event | None = None,
    companion: Callable[[StartedAgent], Coroutine[Any, Any, None]] | None = None,
    trust_ca: bool = False,
    on_show: Callable[[], bool] | None = None,
) -> None:
    """Run the headless agent until ``stop`` is set or SIGINT/SIGTERM arrives.

    ``trust_ca`` (``kyso-agent run``): make this user's stores trust the local CA when
    they do not yet, and again after the CA is renewed.

    ``companion`` (the tray's token monitor) runs as a task once the server listens and
    is cancelled before the server stops and the tokens are closed. Unless policy turns them
    off, the plugin compatibility layers (:data:`~agent.compat.registry.LAYERS`) listen beside
    the API (``on_layer`` gets each one's name and URL after ``on_ready``); a layer whose
    ports are all taken is logged and tried again, never fatal.

    One agent per data directory: :class:`~agent.instance.AlreadyRunning` when another holds
    it. ``on_show`` (the tray) shows the window when a second start asks for it.
    """
    with InstanceLock(config.data_dir) as instance:
        await _serve(
            config,
            prompter,
            on_ready,
            on_layer,
            stop,
            companion,
            trust_ca=trust_ca,
            instance=instance,
            on_show=on_show,
        )


async def _serve(  # noqa: PLR0917 - serve()'s arguments, passed on
    config: AgentConfig,
    prompter: Prompter | None,
    on_ready: Callable[[RunningServer], None] | None,
    on_layer: Callable[[str, str], None] | None,
    stop: asyncio.Event | None,
    companion: Callable[[StartedAgent], Coroutine[Any, Any, None]] | None,
    *,
    trust_ca: bool,
    instance: InstanceLock,
    on_show: Callable[[], bool] | None,
) -> None:
    files = ca.ensure(config.tls_dir)
    if trust_ca:
        await asyncio.to_thread(_trust_once, files)
    audit = AuditLog(config.audit_file)
    tokens = TokenService(config.pkcs11_modules, config.module_isolation, config.worker_limits)
    try:
        spool = _spool(config)
        service = make_service(config, tokens, prompter, audit, spool)
        status = StatusSource(config, tokens, PairingStore(config.pairing_file), audit)
        settings = server_settings(config)
        # One budget for the documents every port holds in memory (agent/server/budget.py),
        # sized for the largest body any of them reads.
        budget = MemoryBudget(BudgetLimits.for_largest(largest_request(config, settings)))
        app = create_app(
            service,
            settings,
            status=status,
            control=ControlChannel(instance.secret, on_show),
            budget=budget,
            spool=spool,
        )
        ports = listen_ports(config)
        context = ca.server_context(files)
        try:
            server = await start_server(app, ports, context)
        except OSError as exc:
            shown = f"{ports[0]}" if len(ports) == 1 else f"{ports[0]}-{ports[-1]}"
            raise ConfigError(
                f"cannot listen on 127.0.0.1:{shown}: {exc.strerror} "
                "(is another Kyso Agent running?)"
            ) from exc
        status.port = server.port
        instance.publish(server.port)
        layers = LayerContext(
            service, settings, budget, config.data_dir, pick_local=_local_chooser(config)
        )
        layer_servers, layer_retries, announcements = await _start_layers(
            config, layers, context, status, on_layer
        )
        watcher = (
            asyncio.create_task(watch_session_lock(service.session_locked))
            if config.pin_cache_minutes
            else None
        )
        renewer = asyncio.create_task(_keep_tls_fresh(files, context, trust_ca=trust_ca))
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        log.info("origins allowed: %s", ", ".join(map(str, config.allowed_origins)) or "none")
        if on_ready is not None:
            on_ready(server)
        for announce in announcements:
            announce()
        beside = (
            asyncio.create_task(companion(StartedAgent(server, service, tokens, status)))
            if companion is not None
            else None
        )
        # What starting freed (the configuration read, the apps built, on a first start the
        # new certificates) is handed back once the agent has settled, as after a large
        # request: glibc would keep those pages for the agent's life (docs/performance.md).
        settled = MemoryRelease()
        settled.schedule()
        try:
            await stop.wait()
        finally:
            settled.cancel()
            await _wind_down(
                beside, [watcher, renewer, *layer_retries], tokens, [*layer_servers, server]
            )
            await service.close()
    finally:
        tokens.close()
        audit.close()


LAYER_RETRY_SECONDS: Final = 30.0
"""How often the agent tries again for a layer whose ports were all taken at start."""


def largest_request(config: AgentConfig, settings: ServerSettings) -> int:
    """The largest body the HTTPS API or an enabled layer reads."""
    return max(
        settings.largest_request,
        *(
            layer.largest_request(settings.max_pdf_bytes)
            for layer in LAYERS
            if layer.largest_request is not None and layer_enabled(config, layer)
        ),
    )


def layer_ports(config: AgentConfig, layer: CompatLayer) -> tuple[int, ...]:
    """The ports ``layer`` tries: the one configured (``NAME_port``), else the vendor's list."""
    chosen: int | None = getattr(config, f"{layer.name}_port")
    return layer.ports if chosen is None else (chosen,)


def layer_enabled(config: AgentConfig, layer: CompatLayer) -> bool:
    """Policy lets ``layer`` listen (``NAME_enabled``)."""
    enabled: bool = getattr(config, f"{layer.name}_enabled")
    return enabled


async def _start_layers(
    config: AgentConfig,
    layers: LayerContext,
    tls: ssl.SSLContext,
    status: StatusSource,
    on_layer: Callable[[str, str], None] | None,
) -> tuple[list[RunningServer], list[asyncio.Task[None]], list[Callable[[], None]]]:
    """Start every enabled layer: the servers started, the retries of the others, and the
    announcements to make once the API's own is made."""
    servers: list[RunningServer] = []
    retries: list[asyncio.Task[None]] = []
    announcements: list[Callable[[], None]] = []
    for layer in LAYERS:
        if not layer_enabled(config, layer):
            log.info("%s compatibility turned off by policy", layer.name)
            status.listeners[layer.name] = ListenerStatus(layer.name, layer.product, False, None)
            continue
        started = await start_layer(layer, layers, tls, layer_ports(config, layer))
        status.listeners[layer.name] = started.state
        if started.server is not None:
            servers.append(started.server)
            if on_layer is not None and started.state.url is not None:
                announcements.append(partial(on_layer, layer.name, started.state.url))
        else:
            retries.append(
                asyncio.create_task(
                    retry_layer(layer, config, layers, tls, status, servers, on_layer)
                )
            )
    return servers, retries, announcements


async def retry_layer(  # noqa: PLR0917 - _start_layers' parts, passed on
    layer: CompatLayer,
    config: AgentConfig,
    layers: LayerContext,
    tls: ssl.SSLContext,
    status: StatusSource,
    started: list[RunningServer],
    on_layer: Callable[[str, str], None] | None,
) -> None:
    """Try for the layer's ports until one is free (another program, or a previous run's
    socket, may hold them for a while), telling the status report meanwhile."""
    ports = layer_ports(config, layer)
    status.notices[layer.name] = text(
        "status_layer_ports_taken",
        config.lang,
        product=layer.product,
        ports=", ".join(map(str, ports)),
        seconds=LAYER_RETRY_SECONDS,
    )
    while True:
        await asyncio.sleep(LAYER_RETRY_SECONDS)
        again = await start_layer(layer, layers, tls, ports)
        if again.server is not None:
            started.append(again.server)
            status.listeners[layer.name] = again.state
            status.notices.pop(layer.name, None)
            if on_layer is not None and again.state.url is not None:
                on_layer(layer.name, again.state.url)
            return


async def _wind_down(
    companion: asyncio.Task[None] | None,
    tasks: Sequence[asyncio.Task[Any] | None],
    tokens: TokenService,
    servers: Sequence[RunningServer | None],
) -> None:
    """Stop the companion and background tasks, then the servers."""
    if companion is not None:
        companion.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await companion
    for task in tasks:
        if task is not None:
            task.cancel()
    running = [server for server in servers if server is not None]
    # Requests in progress get a few seconds, all servers at once: a signature the token is
    # making is still answered. Then a call still in a module is ended (a hung vendor call
    # must not keep the agent from stopping; its request answers TOKEN_MODULE_FAILED), the
    # rest is cancelled (an open question closes) and the connections closed.
    _logged(await asyncio.gather(*(s.drain() for s in running), return_exceptions=True))
    tokens.interrupt()
    _logged(await asyncio.gather(*(s.stop() for s in running), return_exceptions=True))


def _logged(outcomes: Sequence[object]) -> None:
    """Log what stopping a server raised (the others are stopped all the same)."""
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            log.error("stopping a server failed", exc_info=outcome)


def _local_chooser(config: AgentConfig) -> Callable[[Lang], Awaitable[Path | None]] | None:
    """The agent's own file chooser for portals that ask for a local file, on a desktop."""
    from agent.ui.display import display_available
    from agent.ui.local_file import pick_local_pdf

    if not display_available():
        return None
    return partial(pick_local_pdf, timeout=config.prompt_timeout)


def run_with_tray(
    config: AgentConfig,
    cli_lang: str | None,
    on_ready: Callable[[RunningServer], None],
    on_taken: Callable[[], int],
) -> int | None:
    """``kyso-agent run`` on a desktop: the agent, with the tray icon as its companion.

    ``None`` (logged) when no tray icon can show here: the caller runs the agent headless.
    ``on_taken`` gives the exit status when another agent took this user's lock while this
    one was starting (it hands over to that one).
    """
    from agent.ui.tray import Tray, desktop_controller, tray_unavailable
    from agent.ui.win32_dpi import make_dpi_aware

    # Before pystray makes its window: the awareness is the process's, fixed by its first
    # window. `serve` needs none: it shows no window itself, each dialog is its own process.
    make_dpi_aware()
    reason = tray_unavailable()
    if reason:
        log.warning("%s: running without the tray icon, like `kyso-agent serve`", reason)
        return None
    config, controller = desktop_controller(config, cli_lang)

    def agent(
        *, on_ready: Callable[[RunningServer], None], stop: asyncio.Event
    ) -> Coroutine[Any, Any, None]:
        return serve(
            config,
            on_ready=on_ready,
            stop=stop,
            companion=controller.companion,
            trust_ca=config.trust_local_ca,
            on_show=controller.bring_forward,
        )

    tray = Tray(controller, agent, on_ready)
    status = tray.run()
    return on_taken() if tray.taken else status


async def local_signing(config: AgentConfig, request: PdfSignRequest) -> bytes:
    """Sign a PDF from the command line, through the same consent, PIN and audit path."""
    audit = AuditLog(config.audit_file)
    tokens = TokenService(config.pkcs11_modules, config.module_isolation, config.worker_limits)
    try:
        service = make_service(config, tokens, audit=audit)
        try:
            result = await service.sign_pdf(LOCAL_CALLER, request)
        finally:
            await service.close()
        return result.signed_bytes()
    finally:
        tokens.close()
        audit.close()

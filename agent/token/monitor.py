"""Notice tokens coming and going, and certificates nearing their end date.

Slot events are unreliable in python-pkcs11 and absent in SoftHSM, so the monitor
polls: once a second it asks every module (through that module's one worker
thread, :meth:`TokenService.poll`) for its slot list and token info. Certificates
are read only when a token appears (the module caches them per token), so an idle
agent costs a few PKCS#11 calls a second.

The monitor knows nothing of windows: it hands each new :class:`Inventory` and the
:class:`TokenEvent` list derived from it to a callback (the tray shows them).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from agent.token.models import Inventory, TokenCertificate, TokenId, TokenInfo
from agent.token.service import TokenService

log = logging.getLogger(__name__)

#: A certificate this close to its end date is announced (and turns the tray orange).
EXPIRY_WARNING_DAYS: Final = 30
#: Seconds between polls: insertion and removal are noticed within two of them.
POLL_INTERVAL: Final = 1.0
#: Seconds between forced re-initialisations of modules that already show a token
#: (modules that only see a second token after C_Initialize).
RESCAN_INTERVAL: Final = 10.0
#: An expiry warning is repeated at most this often for one certificate.
EXPIRY_REPEAT: Final = timedelta(hours=24)


class TokenEventKind(StrEnum):
    """What happened."""

    INSERTED = "inserted"
    REMOVED = "removed"
    EXPIRING = "expiring"


@dataclass(frozen=True)
class TokenEvent:
    """One change worth telling the user about."""

    kind: TokenEventKind
    """Inserted, removed, or a certificate expiring."""
    token: TokenInfo
    """The token concerned."""
    certificate: TokenCertificate | None = None
    """For ``EXPIRING``: the certificate."""
    days_left: int | None = None
    """For ``EXPIRING``: whole days until its end date (negative once expired)."""


def _key(token: TokenInfo) -> tuple[object, ...]:
    """A token's identity across polls (its slot number may change on re-plugging)."""
    ident: TokenId = token.id
    return (ident.module, ident.serial, ident.label)


def days_left(cert: TokenCertificate, now: datetime) -> int:
    """Days from ``now`` to the certificate's end date, rounded up (negative once expired)."""
    days = (cert.not_after - now) / timedelta(days=1)
    return math.ceil(days) if days > 0 else math.floor(days)


def expiring_certificates(
    inventory: Inventory, now: datetime, within_days: int = EXPIRY_WARNING_DAYS
) -> tuple[tuple[TokenCertificate, int], ...]:
    """Signing certificates that are the newest one of their holder and end within ``within_days``.

    An old certificate left on a token next to its renewal is not a warning: for each
    token and holder only the certificate with the latest end date counts.
    """
    newest: dict[tuple[object, ...], TokenCertificate] = {}
    for cert in inventory.signing_certificates:
        holder = (cert.token.module, cert.token.serial, cert.subject)
        best = newest.get(holder)
        if best is None or cert.not_after > best.not_after:
            newest[holder] = cert
    found = []
    for cert in newest.values():
        left = days_left(cert, now)
        if left <= within_days:
            found.append((cert, left))
    return tuple(sorted(found, key=lambda item: item[1]))


def diff(
    before: Inventory | None, after: Inventory
) -> tuple[tuple[TokenInfo, ...], tuple[TokenInfo, ...]]:
    """Tokens inserted and removed between two inventories."""
    old = {_key(t): t for t in before.tokens} if before is not None else {}
    new = {_key(t): t for t in after.tokens}
    inserted = tuple(t for k, t in new.items() if k not in old)
    removed = tuple(t for k, t in old.items() if k not in new)
    return inserted, removed


Listener = Callable[[Inventory, Sequence[TokenEvent]], None]


class TokenMonitor:
    """Polls a :class:`TokenService` and reports changes to ``listener``.

    ``listener`` is called from the event loop after the first poll and after every
    poll that changed something (tokens, PIN states, events); it must not block.
    """

    def __init__(
        self,
        tokens: TokenService,
        listener: Listener,
        *,
        interval: float = POLL_INTERVAL,
        rescan_interval: float = RESCAN_INTERVAL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._tokens = tokens
        self._listener = listener
        self._interval = interval
        self._rescan_every = max(1, round(rescan_interval / interval))
        self._clock = clock
        self._inventory: Inventory | None = None
        self._warned: dict[str, datetime] = {}
        self._polls = 0

    @property
    def inventory(self) -> Inventory | None:
        """The latest inventory (``None`` before the first poll)."""
        return self._inventory

    async def poll_once(self) -> list[TokenEvent]:
        """Poll every module once; returns the events (also given to the listener)."""
        rescan = self._polls > 0 and self._polls % self._rescan_every == 0
        self._polls += 1
        inventory = await self._tokens.poll(rescan)
        first = self._inventory is None
        events: list[TokenEvent] = []
        if not first:
            inserted, removed = diff(self._inventory, inventory)
            events += [TokenEvent(TokenEventKind.INSERTED, t) for t in inserted]
            events += [TokenEvent(TokenEventKind.REMOVED, t) for t in removed]
        events += self._expiry_events(inventory)
        changed = first or events or inventory != self._inventory
        self._inventory = inventory
        for event in events:
            log.info("token %s: %s (%s)", event.kind.value, event.token.id.label, event.days_left)
        if changed:
            self._listener(inventory, events)
        return events

    def _expiry_events(self, inventory: Inventory) -> list[TokenEvent]:
        now = self._clock()
        tokens = {t.id: t for t in inventory.tokens}
        events = []
        for cert, left in expiring_certificates(inventory, now):
            last = self._warned.get(cert.fingerprint)
            if last is not None and now - last < EXPIRY_REPEAT:
                continue
            self._warned[cert.fingerprint] = now
            token = tokens.get(cert.token)
            if token is not None:
                events.append(TokenEvent(TokenEventKind.EXPIRING, token, cert, left))
        return events

    async def run(self) -> None:
        """Poll until cancelled; a failing poll is logged and retried."""
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("polling the tokens failed; trying again")
            await asyncio.sleep(self._interval)

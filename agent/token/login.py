"""Whether to log in, and with what: the token's flags at that moment against the user's answer.

The one place that decides, right before ``C_Login``, from flags read then (the user may
have spent a minute on the question meanwhile): a locked PIN is never tried, the final
try only with the user's explicit confirmation, a PIN pad gets no PIN, and a token
without one gets no empty login.
"""

from __future__ import annotations

from agent.errors import PinLocked, UserCancelled
from agent.pin import Login, Pin, TriesLeft
from agent.token.models import PinState


def pin_for_login(state: PinState, login: Login) -> Pin | None:
    """The PIN to log in with (``None``: the reader's keypad), or the refusal."""
    if state.tries_left is TriesLeft.LOCKED:
        raise PinLocked("token flags say the PIN is locked; not calling C_Login")
    if state.tries_left is TriesLeft.FINAL and not login.final_try_confirmed:
        raise UserCancelled("final PIN attempt not confirmed by the user")
    if state.pinpad:
        return None
    if not login.pin:
        raise UserCancelled("no PIN was typed")
    return login.pin

"""Batches on a PIN-pad token (which SoftHSM cannot be): one keypad entry for the whole batch,
its progress, and the user's Stop.

The token layer is tests/unit/test_service_pin_states.py's fake, which counts every login; the
real held login on SoftHSM is tests/integration/test_held_login.py's, and the PDFs signed in a
batch are judged by pdfsig and pyHanko in tests/integration/test_pdf_batch.py.
"""

from __future__ import annotations

import pytest

from agent.algorithms import HashAlgorithm
from agent.consent.activity import ActivityKind, Step
from agent.errors import UserCancelled
from agent.pdf.models import Appearance, PdfSignOptions
from agent.pin import TriesLeft
from agent.protocol import BatchSignRequest, DigestToSign, PdfBatchSignRequest, PdfSignRequest
from agent.service import PROGRESS_AFTER_SECONDS, SigningService
from agent.testing.prompter import ScriptedActivity, ScriptedPrompter
from agent.testing.samples import sample_pdf
from agent.token import PinState
from tests.unit.test_service_pin_states import CALLER, FakeTokens

PINPAD = PinState(TriesLeft.OK, pinpad=True)


def hashes(count: int) -> BatchSignRequest:
    return BatchSignRequest(
        tuple(
            DigestToSign(bytes([n % 256]) * 32, HashAlgorithm.SHA256, f"HĐ {n}")
            for n in range(count)
        )
    )


async def test_a_long_hash_batch_logs_in_once_and_shows_its_progress_by_chunks() -> None:
    tokens = FakeTokens(PINPAD)
    prompter = ScriptedPrompter([{"approved": True}])
    count = 107
    signed = await SigningService(tokens, prompter).sign_batch(CALLER, hashes(count))
    assert len(signed.signatures) == count
    assert tokens.logins == [None], "one keypad entry for the whole batch"
    assert tokens.held is None, "the login was released"
    [shown] = prompter.activities
    assert shown.request.kind is ActivityKind.PROGRESS
    assert (shown.request.total, shown.request.appear_after) == (count, PROGRESS_AFTER_SECONDS)
    # Steps in order, each naming the document it begins with, then the end.
    assert shown.steps[0] == Step(0, "HĐ 0")
    assert shown.steps[-1] == Step(count)
    done = [step.done for step in shown.steps]
    assert done == sorted(set(done)), done
    assert all(step.current == f"HĐ {step.done}" for step in shown.steps[:-1])


async def signed_in_steps(
    count: int, per_step: int | None = None
) -> tuple[FakeTokens, ScriptedActivity]:
    """A batch of ``count`` hashes approved, on a token that signs ``per_step`` of them a step
    (``None``: all); the token, and the progress the user was shown."""
    tokens = FakeTokens(PINPAD, per_step=per_step)
    prompter = ScriptedPrompter([{"approved": True}])
    signed = await SigningService(tokens, prompter).sign_batch(CALLER, hashes(count))
    assert len(signed.signatures) == count
    [shown] = prompter.activities
    return tokens, shown


async def test_a_fast_token_signs_a_long_batch_in_one_step_that_also_logs_out() -> None:
    tokens, shown = await signed_in_steps(1000)  # FakeTokens signs all in a step: "fast"
    assert [step.done for step in shown.steps] == [0, 1000]
    assert tokens.asked == ["sign"], "one call to the module: no second step, no release"
    assert tokens.held is None


async def test_a_slow_token_moves_the_progress_at_each_step_in_one_login() -> None:
    tokens, shown = await signed_in_steps(1000, per_step=300)
    assert [step.done for step in shown.steps] == [0, 300, 600, 900, 1000]
    assert [step.current for step in shown.steps[:-1]] == ["HĐ 0", "HĐ 300", "HĐ 600", "HĐ 900"]
    assert tokens.asked == ["sign", "sign_held", "sign_held", "sign_held"]
    assert tokens.logins == [None]
    assert tokens.held is None, "the last step logged out"


async def test_one_hash_is_signed_in_one_call_with_no_progress() -> None:
    tokens = FakeTokens(PINPAD)
    prompter = ScriptedPrompter([{"approved": True}])
    await SigningService(tokens, prompter).sign_batch(CALLER, hashes(1))
    assert prompter.activities == []
    assert tokens.asked == ["sign"]
    assert tokens.logins == [None]


async def test_a_short_batch_on_a_slow_token_shows_its_progress_and_can_be_stopped() -> None:
    """Five hashes on a token of a second a signature: the user sees them go, and may stop."""
    tokens, shown = await signed_in_steps(5, per_step=1)
    assert (shown.request.total, shown.request.appear_after) == (5, PROGRESS_AFTER_SECONDS)
    assert [step.done for step in shown.steps] == [0, 1, 2, 3, 4, 5]
    assert tokens.logins == [None], "one PIN for the five"
    assert tokens.held is None

    tokens = FakeTokens(PINPAD, per_step=1)
    prompter = ScriptedPrompter([{"approved": True}], activities=[{"stopAt": 2}])
    with pytest.raises(UserCancelled):
        await SigningService(tokens, prompter).sign_batch(CALLER, hashes(5))
    # Stop pressed as the third begins: the step under way ends, no other starts.
    assert tokens.asked == ["sign", "sign_held", "sign_held", "release"]
    assert tokens.held is None, "the login was released"


async def test_stop_in_a_hash_batch_gives_no_signature_back() -> None:
    tokens = FakeTokens(PINPAD, per_step=50)
    prompter = ScriptedPrompter([{"approved": True}], activities=[{"stopAt": 0}])
    with pytest.raises(UserCancelled):
        await SigningService(tokens, prompter).sign_batch(CALLER, hashes(150))
    assert tokens.held is None, "the login was released"
    assert tokens.asked == ["sign", "release"]


def pdfs(count: int) -> PdfBatchSignRequest:
    options = PdfSignOptions(appearance=Appearance())
    return PdfBatchSignRequest(
        tuple(
            PdfSignRequest(sample_pdf(text=f"Van ban {n}"), options, f"VB {n}.pdf")
            for n in range(count)
        )
    )


async def test_a_pdf_batch_on_a_pin_pad_asks_once_and_logs_in_once() -> None:
    tokens = FakeTokens(PINPAD)
    prompter = ScriptedPrompter([{"approved": True}])
    answer = await SigningService(tokens, prompter).sign_pdf_batch(CALLER, pdfs(5))
    assert (len(answer.signed), answer.stopped, answer.error) == (5, False, None)
    [question] = prompter.requests
    assert [d.name for d in question.documents] == [f"VB {n}.pdf" for n in range(5)]
    assert tokens.logins == [None]
    [shown] = prompter.activities
    assert shown.steps == [*(Step(n, f"VB {n}.pdf") for n in range(5)), Step(5)]


async def test_stop_in_a_pdf_batch_returns_the_documents_signed_before_it() -> None:
    tokens = FakeTokens(PINPAD)
    prompter = ScriptedPrompter([{"approved": True}], activities=[{"stopAt": 1}])
    answer = await SigningService(tokens, prompter).sign_pdf_batch(CALLER, pdfs(5))
    assert (len(answer.signed), answer.stopped) == (2, True)
    assert answer.to_wire("vi")["documents"][2] == {
        "index": 2,
        "documentName": "VB 2.pdf",
        "signed": False,
    }
    assert tokens.held is None


class FailingThird(FakeTokens):
    """A token layer whose third signature fails with something no one foresaw."""

    calls = 0

    async def sign_held(self, *args: object, **kwargs: object) -> list[bytes]:
        self.calls += 1
        if self.calls == 2:  # the first signature logs in (sign), the next ones are held
            raise RuntimeError("a bug nobody foresaw")
        return await super().sign_held(*args, **kwargs)  # type: ignore[arg-type]


async def test_a_failure_after_documents_were_signed_gives_those_back_with_the_error() -> None:
    tokens = FailingThird(PINPAD)
    prompter = ScriptedPrompter([{"approved": True}])
    answer = await SigningService(tokens, prompter).sign_pdf_batch(CALLER, pdfs(5))
    assert len(answer.signed) == 2
    assert answer.error is not None
    wire = answer.to_wire("en")
    assert wire["error"]["code"] in {"INTERNAL", "SIGNING_FAILED"}
    assert [d["signed"] for d in wire["documents"]] == [True, True, False, False, False]
    assert tokens.held is None

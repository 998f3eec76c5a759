"""Which answer ``POST /v1/pdf/sign`` gives, by the request's ``Accept`` (``wants_pdf``).

The JSON of the API stays the answer unless the page asks for ``application/pdf`` over it: a
browser's own default (``*/*``) and no header at all keep JSON. aiohttp's test request carries the
headers; nothing else of a request is read.
"""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from agent.server.routes import wants_pdf


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ((), False),
        (("*/*",), False),
        (("application/json",), False),
        (("application/json, text/plain, */*",), False),  # axios's default
        (("application/pdf",), True),
        (("APPLICATION/PDF",), True),
        (("application/pdf, */*;q=0.1",), True),
        (("application/pdf, application/json",), True),
        (("application/json;q=0.9, application/pdf",), True),
        (("application/pdf;q=0.5, application/json",), False),
        (("application/pdf ; q=0.5 , application/json ; q=0.4",), True),
        (("application/pdf;q=0",), False),
        (("application/pdf;q=zero",), False),
        (("application/json", "application/pdf"), True),  # two headers: one list
        (("application/*",), False),
    ],
)
def test_only_an_accept_that_prefers_a_pdf_gets_one(
    accept: tuple[str, ...], expected: bool
) -> None:
    headers = CIMultiDict(("Accept", value) for value in accept)
    request = make_mocked_request("POST", "/v1/pdf/sign", headers=headers)
    assert wants_pdf(request) is expected

"""What each command does: origin → consent → token → result.

:class:`SigningService` (:mod:`agent.service.signing`) is called with an origin that the server
has already admitted; the rooms it uses, each with one job:

- :mod:`agent.service.certificates`: which certificates a request may be offered, what the PIN
  field asks, the issuers that travel with a signature, the checks before the key is used;
- :mod:`agent.service.waiting`: "Hãy cắm USB token…" until the token is in;
- :mod:`agent.service.batches`: many documents after one consent and one login, with progress
  and Stop.
"""

from agent.service.batches import PROGRESS_AFTER_SECONDS
from agent.service.signing import SigningService
from agent.service.waiting import TOKEN_POLL_SECONDS

__all__ = ["PROGRESS_AFTER_SECONDS", "TOKEN_POLL_SECONDS", "SigningService"]

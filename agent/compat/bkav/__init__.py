"""The BkavCA Signer Plugin protocol on ``wss://localhost:8443``. See ``docs/compat/bkav.md``.

``protocol`` (the wire's words, frames and codes) → ``wire`` (pieces into calls) → ``calls``
(each function's arguments) → ``functions`` (calls into
:class:`~agent.service.SigningService` calls; ``xmlplace`` and ``certs`` help) → ``server``
(the socket).
"""

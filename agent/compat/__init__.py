"""Other signing plugins' wire protocols, translated into :class:`~agent.service.SigningService`
calls: the same allow-list, pairing, consent, PIN and audit rules as the HTTPS API."""

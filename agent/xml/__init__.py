"""XMLDSig enveloped signatures for Vietnamese e-invoices and tax filings.

``parse`` reads untrusted XML safely, ``profiles`` says what is signed and where the
signature goes, ``sign`` builds the signature in two phases (prepare, then finish
with the token's signature value).
"""

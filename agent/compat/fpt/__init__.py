"""The FPT / TrustCA SignPlugin protocol on ``https://127.0.0.1:14408/process``. See
``docs/compat/fpt.md``."""

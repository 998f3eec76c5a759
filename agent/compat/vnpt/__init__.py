"""The VNPT-CA Plugin protocol (``vnpt-plugin.js``) on ``wss://localhost:4433/plugin`` and the
next ports its library tries. See ``docs/compat/vnpt.md``."""

"""The desktop: the consent and PIN dialog, the tray icon, other small windows.

The only package that knows about windows. Nothing here is imported on the
request path except :mod:`agent.ui.display` and :mod:`agent.ui.prompter`, which
never import Tk themselves: every window runs in its own process
(``python -m agent.ui.<module>``) so that neither the HTTP server nor the tray
ever waits for one.
"""

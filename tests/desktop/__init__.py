"""Desktop tests: real windows under Xvfb (the dialog, the tray)."""

"""``python -m agent``."""

from agent.pywarnings import route_to_log

route_to_log()  # before anything else is imported

from agent.cli import main  # noqa: E402

raise SystemExit(main())

"""``python -m app`` runs the ``hearth`` command, or the child guard when asked.

The guard check comes before the CLI's imports so the guard process stays
small (see ``app.runner.child_guard``).
"""

import sys

from app.runner.child_guard import GUARD_FLAG, run_guard

if sys.argv[1:2] == [GUARD_FLAG]:
    raise SystemExit(run_guard())

from app.cli import main  # noqa: E402

raise SystemExit(main())

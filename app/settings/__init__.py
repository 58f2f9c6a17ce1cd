"""Hearth's settings, of two kinds, each owned by one module.

* ``process``: what one Hearth process runs with, resolved at start from CLI
  flags, ``HEARTH_*`` environment variables and platformdirs defaults
  (directories, host and port, runner and pull knobs): ``Settings``.
* ``stored``: the app settings a person changes in the UI or through
  ``/api/v1/settings`` (theme, default model, pull concurrency...), kept in
  the chat database: their closed list of keys, defaults and checks.

The process settings' names are exported here, since nearly every part of
Hearth needs them; the stored ones are imported from ``app.settings.stored``.
"""

from app.settings.process import (
    APP_NAME,
    DEFAULT_HOST,
    DEFAULT_PORT,
    Settings,
    SettingsError,
    default_child_watch,
    default_llama_server_cache,
    load_settings,
    models_dir_problem,
)

__all__ = [
    "APP_NAME",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Settings",
    "SettingsError",
    "default_child_watch",
    "default_llama_server_cache",
    "load_settings",
    "models_dir_problem",
]

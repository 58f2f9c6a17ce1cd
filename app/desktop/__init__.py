"""The desktop shell: native window, menus, single instance, lifecycle."""

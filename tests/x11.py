"""Talking to the X server under the desktop tests, as a window manager would.

The tests run Hearth under a bare Xvfb with no window manager, so nothing
would otherwise close a window from its title bar or stack another window
over it. python-xlib sends the very messages a window manager sends: the
ICCCM ``WM_DELETE_WINDOW`` request (a click on the close button) and plain
stacking requests. Nothing here is a fake: Qt receives real X events.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from Xlib import X, Xatom, display
from Xlib.protocol import event
from Xlib.xobject.drawable import Window


@contextlib.contextmanager
def connect(name: str) -> Iterator[display.Display]:
    connection = display.Display(name)
    try:
        yield connection
    finally:
        connection.close()


def _viewable(window: Window) -> bool:
    try:
        return window.get_attributes().map_state == X.IsViewable
    except Exception:  # noqa: BLE001 - a window that went away meanwhile
        return False


def _owner_pid(connection: display.Display, window: Window) -> int | None:
    """The ``_NET_WM_PID`` a client set on ``window``, if any."""
    try:
        owner = window.get_full_property(connection.intern_atom("_NET_WM_PID"), Xatom.CARDINAL)
    except Exception:  # noqa: BLE001 - a window that went away meanwhile
        return None
    return int(owner.value[0]) if owner is not None else None


def app_window(connection: display.Display, pid: int) -> Window | None:
    """The largest viewable top-level window whose ``_NET_WM_PID`` is ``pid``."""

    def area(window: Window) -> int:
        geometry = window.get_geometry()
        return geometry.width * geometry.height

    return max(app_windows(connection, pid), key=area, default=None)


def position(connection: display.Display, window: Window) -> tuple[int, int]:
    """The window's top-left corner on the screen."""
    origin = window.translate_coords(connection.screen().root, 0, 0)
    return -origin.x, -origin.y


def stacking_index(connection: display.Display, window: Window) -> int:
    """Position among the root's children, bottom (0) to top."""
    ids = [child.id for child in connection.screen().root.query_tree().children]
    return ids.index(window.id)


def cover_with_window(connection: display.Display) -> Window:
    """Map a screen-sized window of another client on top of everything."""
    screen = connection.screen()
    cover = screen.root.create_window(
        0,
        0,
        screen.width_in_pixels,
        screen.height_in_pixels,
        0,
        screen.root_depth,
        X.InputOutput,
        X.CopyFromParent,
        background_pixel=screen.black_pixel,
    )
    cover.map()
    connection.sync()
    return cover


def request_close(connection: display.Display, window: Window) -> None:
    """What a window manager sends when the user clicks the window's close button."""
    protocols = connection.intern_atom("WM_PROTOCOLS")
    delete = connection.intern_atom("WM_DELETE_WINDOW")
    message = event.ClientMessage(
        window=window, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])
    )
    window.send_event(message, event_mask=X.NoEventMask)
    connection.sync()


def app_windows(connection: display.Display, pid: int) -> list[Window]:
    """Every viewable top-level window of process ``pid``, bottom to top."""
    return [
        window
        for window in connection.screen().root.query_tree().children
        if _owner_pid(connection, window) == pid and _viewable(window)
    ]


def type_text(connection: display.Display, window: Window, text: str) -> None:
    """Focus ``window`` and type ``text`` as key presses (XTEST, as a keyboard would)."""
    from Xlib import XK
    from Xlib.ext import xtest

    window.set_input_focus(X.RevertToParent, X.CurrentTime)
    connection.sync()
    shift = connection.keysym_to_keycode(XK.string_to_keysym("Shift_L"))
    names = {"/": "slash", ".": "period", "-": "minus", "_": "underscore", ":": "colon",
             " ": "space", "\n": "Return"}  # fmt: skip
    for char in text:
        keysym = XK.string_to_keysym(names.get(char, char))
        keycode = connection.keysym_to_keycode(keysym)
        shifted = connection.keycode_to_keysym(keycode, 0) != keysym
        if shifted:
            xtest.fake_input(connection, X.KeyPress, shift)
        xtest.fake_input(connection, X.KeyPress, keycode)
        xtest.fake_input(connection, X.KeyRelease, keycode)
        if shifted:
            xtest.fake_input(connection, X.KeyRelease, shift)
        connection.sync()


def press(connection: display.Display, window: Window | None, *keys: str) -> None:
    """Press a chord such as ("Control_L", "a") in ``window``; None: wherever the
    keyboard is (an open menu grabs it, and moving the focus would close it)."""
    from Xlib import XK
    from Xlib.ext import xtest

    if window is not None:
        window.set_input_focus(X.RevertToParent, X.CurrentTime)
    codes = [connection.keysym_to_keycode(XK.string_to_keysym(key)) for key in keys]
    for code in codes:
        xtest.fake_input(connection, X.KeyPress, code)
    for code in reversed(codes):
        xtest.fake_input(connection, X.KeyRelease, code)
    connection.sync()


def embedded_windows(
    connection: display.Display, pid: int, top: Window | None = None
) -> list[Window]:
    """Viewable windows of process ``pid`` inside other clients' windows (a tray icon
    docked in a tray host), searched depth first."""
    found: list[Window] = []
    for window in (top or connection.screen().root).query_tree().children:
        if _owner_pid(connection, window) == pid:
            if top is not None and _viewable(window):
                found.append(window)
            continue  # the app's own top-level windows are not embedded
        found.extend(embedded_windows(connection, pid, window))
    return found


def click(connection: display.Display, window: Window, button: int = 1) -> None:
    """Move the pointer to the middle of ``window`` and click ``button`` (XTEST)."""
    from Xlib.ext import xtest

    x, y = position(connection, window)
    geometry = window.get_geometry()
    middle = (x + geometry.width // 2, y + geometry.height // 2)
    xtest.fake_input(connection, X.MotionNotify, x=middle[0], y=middle[1])
    xtest.fake_input(connection, X.ButtonPress, button)
    xtest.fake_input(connection, X.ButtonRelease, button)
    connection.sync()


def click_at(connection: display.Display, window: Window, x: int, y: int) -> None:
    """Click at (``x``, ``y``) inside ``window`` (XTEST), e.g. on a menu bar's title."""
    from Xlib.ext import xtest

    left, top = position(connection, window)
    xtest.fake_input(connection, X.MotionNotify, x=left + x, y=top + y)
    xtest.fake_input(connection, X.ButtonPress, 1)
    xtest.fake_input(connection, X.ButtonRelease, 1)
    connection.sync()

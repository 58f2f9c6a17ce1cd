"""Chat persistence for ``/api/v1``: SQLite storage, search, import and export.

Nothing here knows about HTTP, so the CLI or the desktop shell can reuse the
same :class:`ChatStore` the blueprint uses.
"""

from app.chats.errors import ChatNotFound, MessageNotFound, SchemaTooNew
from app.chats.store import ChatStore

__all__ = ["ChatNotFound", "ChatStore", "MessageNotFound", "SchemaTooNew"]

"""Who is viewing or typing in which conversation, and which agents are online (pure, no I/O).

Each process keeps a replica of every process's entries (realtime/presence.py carries them over the
channel layer). An entry belongs to one socket, so an agent with two tabs stays online until both
close, and it expires a TTL after its last refresh (`HUB_PRESENCE_TTL_SECONDS`), so a process that
died without a word cannot leave anyone "typing" for ever.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PresenceState = Literal["viewing", "typing", "idle"]
STATES: frozenset[str] = frozenset({"viewing", "typing", "idle"})
ConversationKey = tuple[str, str]  # (business phone_number_id, customer wa_id or BSUID)


@dataclass(frozen=True, slots=True)
class Entry:
    user: str
    state: PresenceState
    expires: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    viewing: tuple[str, ...]
    typing: tuple[str, ...]


@dataclass
class PresenceBook:
    """Conversation states per socket, and online sockets per user; every change says what it changed."""

    states: dict[ConversationKey, dict[str, Entry]] = field(default_factory=dict)
    online: dict[str, Entry] = field(default_factory=dict)  # socket -> its user (state "viewing")

    def snapshot(self, conversation: ConversationKey) -> Snapshot:
        entries = self.states.get(conversation, {}).values()
        typing = sorted({e.user for e in entries if e.state == "typing"})
        # Typing implies viewing: whoever types has the thread open.
        viewing = sorted({e.user for e in entries if e.state in ("viewing", "typing")})
        return Snapshot(viewing=tuple(viewing), typing=tuple(typing))

    def online_users(self) -> tuple[str, ...]:
        return tuple(sorted({entry.user for entry in self.online.values()}))

    def set_state(
        self, conversation: ConversationKey, socket: str, user: str, state: PresenceState, expires: float
    ) -> list[ConversationKey]:
        """A socket's state in a conversation; a socket is in one conversation at a time."""
        before = {key: self.snapshot(key) for key in self._conversations_of(socket) | {conversation}}
        for key in list(before):
            self._remove(key, socket)
        if state != "idle":
            self.states.setdefault(conversation, {})[socket] = Entry(user, state, expires)
        return [key for key, was in before.items() if self.snapshot(key) != was]

    def set_online(self, socket: str, user: str, expires: float) -> bool:
        """A socket that is open; True when the list of online users changed."""
        before = self.online_users()
        self.online[socket] = Entry(user, "viewing", expires)
        return self.online_users() != before

    def drop_socket(self, socket: str) -> tuple[list[ConversationKey], bool]:
        """A closed socket: the conversations whose presence changed, and whether `online` did."""
        changed = self.set_state(("", ""), socket, "", "idle", 0.0)
        before = self.online_users()
        self.online.pop(socket, None)
        return [key for key in changed if key != ("", "")], self.online_users() != before

    def expire(self, now: float) -> tuple[list[ConversationKey], bool]:
        """Forget entries not refreshed in time."""
        changed: list[ConversationKey] = []
        for key, entries in list(self.states.items()):
            was = self.snapshot(key)
            for socket in [s for s, e in entries.items() if e.expires <= now]:
                self._remove(key, socket)
            if self.snapshot(key) != was:
                changed.append(key)
        before = self.online_users()
        for socket in [s for s, e in self.online.items() if e.expires <= now]:
            del self.online[socket]
        return changed, self.online_users() != before

    def entries_of(self, sockets: set[str]) -> list[tuple[ConversationKey, str, Entry]]:
        """Every conversation entry of `sockets` (a process announces its own on a peer's request)."""
        return [
            (key, socket, entry)
            for key, entries in self.states.items()
            for socket, entry in entries.items()
            if socket in sockets
        ]

    def _conversations_of(self, socket: str) -> set[ConversationKey]:
        return {key for key, entries in self.states.items() if socket in entries}

    def _remove(self, conversation: ConversationKey, socket: str) -> None:
        entries = self.states.get(conversation)
        if entries is not None:
            entries.pop(socket, None)
            if not entries:
                del self.states[conversation]

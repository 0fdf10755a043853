"""The presence replica's rules, without sockets (realtime/presence_book.py)."""

from __future__ import annotations

from realtime.presence_book import PresenceBook


def test_book_one_socket_moves_between_conversations() -> None:
    book = PresenceBook()
    a, b = ("1", "111"), ("1", "222")

    assert book.set_state(a, "s1", "bob", "viewing", 100.0) == [a]
    assert sorted(book.set_state(b, "s1", "bob", "typing", 100.0)) == [a, b]
    assert book.snapshot(a).viewing == ()
    assert book.snapshot(b).typing == ("bob",)
    assert book.set_state(b, "s2", "bob", "viewing", 100.0) == []  # bob already views b
    assert book.expire(200.0) == ([b], False)


def test_book_agent_with_two_sockets_stays_online_until_both_close() -> None:
    book = PresenceBook()

    assert book.set_online("s1", "bob", 100.0) is True
    assert book.set_online("s2", "bob", 100.0) is False
    assert book.drop_socket("s1") == ([], False)
    assert book.online_users() == ("bob",)
    assert book.drop_socket("s2") == ([], True)
    assert book.online_users() == ()

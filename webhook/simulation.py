"""A seeded stream of realistic webhook bodies in Meta's wire format, for demos and load (pure: no I/O)."""

from __future__ import annotations

import base64
import hashlib
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from itertools import accumulate
from typing import Any

from webhook import media_samples, samples
from webhook.media_samples import MediaSample

# (file bytes, mime type) -> media id. The simulate command uploads to a running fake Graph API, so the
# hub can download what the webhook announces; without one, ids are made up.
MediaRegistrar = Callable[[bytes, str], str]

DEFAULT_START = 1764000000
MESSAGE_KINDS = (
    "text", "reply", "image", "video", "audio", "voice", "document", "sticker", "location", "contacts",
    "button_reply", "list_reply", "button", "reaction", "order", "system", "edit", "revoke", "unsupported",
)  # fmt: skip
KINDS = (*MESSAGE_KINDS, "status", "redelivery")
# Bodies of each kind per 100, once the opening bodies have shown every kind once.
_WEIGHTS = (30, 6, 6, 2, 2, 5, 3, 3, 2, 1, 4, 2, 2, 4, 1, 0.5, 2, 1, 1, 20, 4)
_CUMULATIVE = tuple(accumulate(_WEIGHTS))
# Bodies kept for redelivery: Meta redelivers what it has not seen acknowledged, within minutes.
_REDELIVERY_WINDOW = 64


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer as Meta names them: a phone number (wa_id), a BSUID (user_id), or both."""

    name: str
    wa_id: str = ""
    user_id: str = ""
    username: str = ""


@dataclass(frozen=True, slots=True)
class SimulatedBody:
    """One POST body and the kind (a `KINDS` entry) of what it carries."""

    kind: str
    body: bytes


@dataclass(frozen=True, slots=True)
class _MediaKind:
    type_name: str
    files: tuple[MediaSample, ...]
    captions: tuple[str, ...] = ("",)
    filenames: tuple[str, ...] = ("",)
    flags: dict[str, bool] = field(default_factory=dict)


ROSTER = (
    Customer("Alex Cruz", "16505551234", "US.13491208655302741918"),
    Customer("Priya Shah", "447700900123", "GB.58293017746120938811"),
    Customer("José Müller-Øberg", "5511987654321"),
    Customer("王美玲", "8613800138000", "CN.30918274650192837465"),
    # Since 2026 a customer with a username may come with a BSUID and no phone number.
    Customer("Sam Rivera", user_id="US.20587319966413852029", username="samtravels"),
    Customer("Noor Haddad", user_id="AE.77120934581203948576", username="noor.designs"),
)
_ACTIVITY = tuple(accumulate((5, 4, 3, 2, 2, 1)))

TEXTS = (
    "Hi, is my order on its way?", "Can I change the delivery address?", "¿Tienen la taza azul en stock? ☕",
    "Thanks! 👍", "The tracking link doesn't work", "When do you open tomorrow?", "Ok",
    "I'd like a refund for order #4521", "Bonjour, ma commande est arrivée cassée 😞",
    # "Hello, has my parcel arrived?", with the full-width punctuation Chinese text uses.
    "\u4f60\u597d\uff0c\u6211\u7684\u5305\u88f9\u5230\u4e86\u5417\uff1f",
)  # fmt: skip
REPLIES = ("Yes, that one", "No, the other size", "Perfect, thanks", "Can you send it again?")
# Real files (webhook/media_samples/), so that the console shows pictures and plays sound.
MEDIA = {
    "image": _MediaKind("image", (media_samples.PHOTO, media_samples.RECEIPT), ("", "It arrived like this")),
    "video": _MediaKind("video", (media_samples.CLIP,), ("", "Unboxing")),
    "audio": _MediaKind("audio", (media_samples.SONG,), flags={"voice": False}),
    "voice": _MediaKind("audio", (media_samples.VOICE_NOTE,), flags={"voice": True}),
    "document": _MediaKind("document", (media_samples.INVOICE,), ("", "Invoice"), ("order.pdf",)),
    "sticker": _MediaKind("sticker", (media_samples.STICKER,), flags={"animated": False}),
}  # fmt: skip
PLACES = (
    (37.4852152, -122.1484, "Meta Headquarters", "1 Hacker Way, Menlo Park, CA 94025"),
    (51.5007292, -0.1246254, "Big Ben", "London SW1A 0AA"),
    (-23.5613, -46.6565, "", ""),
)
CARDS = (("Maria Lopez", "+1 650-555-9876"), ("Tom Okafor", "+44 7700 900456"))
BUTTONS = (("confirm-delivery", "Yes, deliver it", ""), ("talk-to-agent", "Talk to an agent", ""))
LIST_ROWS = (("slot-am", "Tuesday morning", "9:00 to 12:00"), ("slot-pm", "Tuesday afternoon", "1 to 5 pm"))
TEMPLATE_BUTTONS = (("RESCHEDULE_DELIVERY", "Reschedule"), ("STOP_PROMOTIONS", "Stop promotions"))
EMOJI = ("👍", "❤️", "😂", "🙏", "")  # an empty emoji withdraws the reaction
CATALOG_ID = "354160437058781"
PRODUCTS = (("MUG-BLUE-350", 12.5), ("TEA-EARLGREY-100", 8.0), ("COASTER-SET-4", 6.75))
UNSUPPORTED = ("poll_creation", "view_once", "event_creation")
# What becomes of a message the business sent: most are read, some never report `delivered`, some fail.
_STATUS_PLANS = (
    (0.65, ("sent", "delivered", "read")),
    (0.75, ("sent", "read")),
    (0.80, ("sent", "delivered", "read", "played")),
    (0.92, ("sent", "delivered")),
    (1.00, ("sent", "failed")),
)

Content = tuple[str, dict[str, Any] | None, dict[str, Any]]


class TrafficSimulator:
    """An endless iterator of bodies; the same seed yields the same bytes (registered media ids aside).

    The first `len(KINDS)` bodies show every kind once; after that kinds come by weight. Customers reply
    to (and react to) business messages whose statuses arrive later, sometimes out of order.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        register_media: MediaRegistrar | None = None,
        clock: Callable[[], int] | None = None,
        start: int = DEFAULT_START,
        phone_number_id: str = samples.DEFAULT_PHONE_NUMBER_ID,
        display_phone_number: str = samples.DEFAULT_DISPLAY_NUMBER,
        waba_id: str = samples.DEFAULT_WABA_ID,
    ) -> None:
        self.seed = seed
        # Traffic, not secrets: a seeded generator makes runs repeatable.
        self._rng = random.Random(seed)  # noqa: S311
        self._register = register_media
        self._clock = clock
        self._now = start
        self._display = display_phone_number
        self._business = dict(
            phone_number_id=phone_number_id, display_phone_number=display_phone_number, waba_id=waba_id
        )
        self._customers = list(ROSTER)
        self._serial = 0
        self._texts: list[deque[str]] = [deque(maxlen=20) for _ in ROSTER]
        self._own: list[deque[str]] = [deque(maxlen=20) for _ in ROSTER]
        self._outbound: list[deque[str]] = [deque(maxlen=5) for _ in ROSTER]
        # (recipient, wamid, status, timestamp) still to report, in the order Meta will post them.
        self._pending: deque[tuple[Customer, str, str, int]] = deque()
        self._recent: deque[bytes] = deque(maxlen=_REDELIVERY_WINDOW)
        opening = list(KINDS[1:-1])
        self._rng.shuffle(opening)
        self._opening = deque(["text", *opening, "redelivery"])

    def __iter__(self) -> Iterator[SimulatedBody]:
        return self

    def __next__(self) -> SimulatedBody:
        return self.next_body()

    def next_body(self) -> SimulatedBody:
        rng = self._rng
        kind = self._opening.popleft() if self._opening else rng.choices(KINDS, cum_weights=_CUMULATIVE)[0]
        if kind == "redelivery":
            if self._recent:
                return SimulatedBody(kind, self._recent[rng.randrange(len(self._recent))])
            kind = "text"
        step = rng.randint(1, 30)
        self._now = max(self._now, self._clock()) if self._clock else self._now + step
        if (kind == "edit" and not any(self._texts)) or (kind == "revoke" and not any(self._own)):
            kind = "text"
        value = self._statuses() if kind == "status" else self._message(kind)
        body = samples.encode(samples.envelope([value], **self._business))
        self._recent.append(body)
        return SimulatedBody(kind, body)

    def take(self, count: int) -> list[SimulatedBody]:
        return [self.next_body() for _ in range(count)]

    def _wamid(self) -> str:
        self._serial += 1
        digest = hashlib.sha256(f"simulated:{self.seed}:{self._serial}".encode()).digest()[:18]
        return "wamid.HBgL" + base64.b64encode(digest).decode()

    def _pick(self, kind: str) -> int:
        if kind == "edit":
            return self._rng.choice([i for i, texts in enumerate(self._texts) if texts])
        if kind == "revoke":
            return self._rng.choice([i for i, own in enumerate(self._own) if own])
        return self._rng.choices(range(len(self._customers)), cum_weights=_ACTIVITY)[0]

    def _message(self, kind: str) -> dict[str, Any]:
        who = self._pick(kind)
        customer = self._customers[who]
        wamid = self._wamid()
        if kind == "system":
            return self._identity_change(who, wamid)
        type_name, content, extra = self._content(kind, who)
        message = samples.inbound_message(
            wamid, self._now, type_name, content, wa_id=customer.wa_id, user_id=customer.user_id, **extra
        )
        if kind in ("text", "reply"):
            self._texts[who].append(wamid)
        if kind not in ("reaction", "edit", "revoke"):
            self._own[who].append(wamid)
        return samples.messages_value([_contact(customer)], [message])

    def _content(self, kind: str, who: int) -> Content:
        rng = self._rng
        if kind in MEDIA:
            return self._media(MEDIA[kind])
        if kind == "text":
            return "text", {"body": rng.choice(TEXTS)}, {}
        if kind == "reply":
            return "text", {"body": rng.choice(REPLIES)}, {"context": self._context(who)}
        if kind == "location":
            latitude, longitude, name, address = rng.choice(PLACES)
            place = {"latitude": latitude, "longitude": longitude, "name": name, "address": address}
            return "location", {k: v for k, v in place.items() if v != ""}, {}
        if kind == "contacts":
            name, phone = rng.choice(CARDS)
            card = samples.shared_contact(name, phone, "".join(ch for ch in phone if ch.isdigit()))
            return "contacts", None, {"contacts": [card]}
        if kind in ("button_reply", "list_reply"):
            reply_id, title, description = rng.choice(BUTTONS if kind == "button_reply" else LIST_ROWS)
            reply = samples.interactive_reply(kind, reply_id, title, description)
            return "interactive", reply, {"context": self._context(who)}
        if kind == "button":
            payload, text = rng.choice(TEMPLATE_BUTTONS)
            return "button", {"payload": payload, "text": text}, {"context": self._context(who)}
        if kind == "reaction":
            return "reaction", {"message_id": self._business_message(who), "emoji": rng.choice(EMOJI)}, {}
        if kind == "order":
            items = [
                (pid, rng.randint(1, 3), price) for pid, price in rng.sample(PRODUCTS, rng.randint(1, 2))
            ]
            order = samples.order_content(CATALOG_ID, items, rng.choice(("", "Gift-wrap, please")))
            return "order", order, {}
        if kind == "edit":
            target = self._texts[who][-1]
            return "edit", samples.edit_content(target, rng.choice(TEXTS) + " (edited)"), {}
        if kind == "revoke":
            target = self._own[who].pop()
            if target in self._texts[who]:
                self._texts[who].remove(target)
            return "revoke", {"original_message_id": target}, {}
        return "unsupported", {"type": rng.choice(UNSUPPORTED)}, {"errors": samples.unsupported_errors()}

    def _media(self, spec: _MediaKind) -> Content:
        rng = self._rng
        sample = rng.choice(spec.files)
        data = sample.data
        # Drawn even when a registrar names the id, so the stream is the same either way.
        media_id = str(10**15 + rng.randrange(9 * 10**15))
        if self._register is not None:
            media_id = self._register(data, sample.mime_type)
        # The webhook gives the hash as base64 (the media endpoint gives hex).
        sha256 = base64.b64encode(hashlib.sha256(data).digest()).decode()
        caption, filename = rng.choice(spec.captions), rng.choice(spec.filenames)
        content = samples.media_content(
            media_id, sample.mime_type, sha256, caption=caption, filename=filename, **spec.flags
        )
        return spec.type_name, content, {}

    def _identity_change(self, who: int, wamid: str) -> dict[str, Any]:
        """A `system` message: the customer changed number (or, known by BSUID only, their BSUID)."""
        old = self._customers[who]
        suffix = f"{self._rng.randrange(10**4):04d}"
        if old.wa_id:
            new = replace(old, wa_id=old.wa_id[:-4] + suffix)
            value = samples.number_change(wamid, self._now, old.name, old.wa_id, new.wa_id)
        else:
            new = replace(old, user_id=old.user_id[:-4] + suffix)
            value = samples.user_id_change(wamid, self._now, old.user_id, new.user_id)
        self._customers[who] = new
        # Later messages come from the new identity: another conversation, with no history to edit.
        for history in (self._texts[who], self._own[who], self._outbound[who]):
            history.clear()
        return value

    def _context(self, who: int) -> dict[str, Any]:
        return {"from": self._display, "id": self._business_message(who)}

    def _business_message(self, who: int) -> str:
        """A recent message the business sent this customer; a new one (statuses to come) now and then."""
        sent = self._outbound[who]
        if sent and self._rng.random() < 0.7:
            return sent[self._rng.randrange(len(sent))]
        return self._send(who)

    def _send(self, who: int) -> str:
        """The business sends this customer a message (not through the hub): its statuses are to come."""
        wamid = self._wamid()
        self._outbound[who].append(wamid)
        draw = self._rng.random()
        plan = next(statuses for bound, statuses in _STATUS_PLANS if draw < bound)
        order = list(range(len(plan)))
        if len(plan) > 1 and self._rng.random() < 0.3:
            # Meta does not promise order: a later status may arrive first.
            i = self._rng.randrange(len(plan) - 1)
            order[i], order[i + 1] = order[i + 1], order[i]
        customer = self._customers[who]
        self._pending.extend((customer, wamid, plan[i], self._now + i) for i in order)
        return wamid

    def _statuses(self) -> dict[str, Any]:
        if not self._pending:
            self._send(self._pick("status"))
        count = min(len(self._pending), self._rng.choice((1, 1, 1, 2, 3)))
        items: list[dict[str, Any]] = []
        contacts: dict[Customer, dict[str, Any]] = {}
        for _ in range(count):
            customer, wamid, status, timestamp = self._pending.popleft()
            recipient = {"recipient_id": customer.wa_id, "recipient_user_id": customer.user_id}
            items.append(samples.status_object(wamid, status, timestamp, **recipient))
            contacts[customer] = _contact(customer)
        return {"contacts": list(contacts.values()), "statuses": items}


def _contact(c: Customer) -> dict[str, Any]:
    return samples.contact(name=c.name, wa_id=c.wa_id, user_id=c.user_id, username=c.username)


def simulate(count: int, seed: int = 0, **options: Any) -> list[SimulatedBody]:
    """The first `count` bodies of the stream for `seed` (options as for `TrafficSimulator`)."""
    return TrafficSimulator(seed, **options).take(count)

"""The hub's tables; names and fields follow docs/design.md, section 3 (app label `whatsapp`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from store.fields import PerValueJSONField


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class MessageStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PENDING = "pending", "Pending"
    # The send reached Meta or not, nobody knows: the answer was lost (docs/reliability.md).
    UNKNOWN = "unknown", "Unknown"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    PLAYED = "played", "Played"
    FAILED = "failed", "Failed"
    DELETED = "deleted", "Deleted"


class MediaStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DOWNLOADED = "downloaded", "Downloaded"
    FAILED = "failed", "Failed"


class ConversationStatus(models.TextChoices):
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    RESOLVED = "resolved", "Resolved"
    SNOOZED = "snoozed", "Snoozed"


class WhatsAppBusinessNumber(models.Model):
    """A business phone number the hub has heard from (webhook `metadata`)."""

    phone_number_id = models.CharField(max_length=64, unique=True)
    display_phone_number = models.CharField(max_length=32, blank=True, default="")
    waba_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "business number"

    def __str__(self) -> str:
        return self.display_phone_number or self.phone_number_id


class WhatsAppConversation(models.Model):
    """One customer of one business number; the customer is known by wa_id, BSUID or both."""

    business_phone_number_id = models.CharField(max_length=64, db_index=True)
    # NULL, not "", means "not known": the partial unique constraints below skip absent identities.
    phone_number = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    user_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    username = models.CharField(max_length=128, blank=True, default="")
    contact_name = models.CharField(max_length=256, blank=True, default="")
    message_count = models.PositiveIntegerField(default=0)
    unread_count = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_message_preview = models.CharField(max_length=200, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    # The team's side (docs/rest.md, "Team inbox"): who owns it, where it stands, how it is tagged.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
    )
    status = models.CharField(
        max_length=16, choices=ConversationStatus.choices, default=ConversationStatus.OPEN, db_index=True
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # Lower-case names (store/labels.py); a list here keeps conversation JSON free of a join.
    labels = models.JSONField(default=list, blank=True)
    # When Meta last showed the customer an agent typing (one per 25 s: store/actions/typing.py).
    typing_indicator_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "conversation"
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["business_phone_number_id", "phone_number"],
                condition=Q(phone_number__isnull=False),
                name="conversation_unique_wa_id",
            ),
            models.UniqueConstraint(
                fields=["business_phone_number_id", "user_id"],
                condition=Q(user_id__isnull=False),
                name="conversation_unique_bsuid",
            ),
            models.CheckConstraint(
                condition=Q(phone_number__isnull=False) | Q(user_id__isnull=False),
                name="conversation_has_customer",
            ),
        ]
        indexes = [models.Index(fields=["phone_number"]), models.Index(fields=["user_id"])]

    def __str__(self) -> str:
        return self.contact_name or self.customer_key

    @property
    def customer_key(self) -> str:
        """The customer's id in URLs: the wa_id when known, else the BSUID."""
        return self.phone_number or self.user_id or ""


class ConversationNote(models.Model):
    """An internal note of the team in a conversation's thread; never shown to customer-scoped tokens."""

    conversation = models.ForeignKey(
        WhatsAppConversation, on_delete=models.CASCADE, related_name="team_notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="conversation_notes"
    )
    text = models.TextField()
    # Usernames named with `@username` that exist: their consoles show the mention.
    mentions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "internal note"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note {self.pk} on {self.conversation_id}"


class CannedResponse(models.Model):
    """A reply the team keeps at hand: typing `/shortcut` in the console offers its text."""

    shortcut = models.CharField(max_length=64, unique=True)
    text = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "canned response"
        ordering = ["shortcut"]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class MessageTemplate(models.Model):
    """A message template of a WhatsApp Business Account, as Meta last told (sync_templates or webhook)."""

    # The WABA it belongs to ("" when Meta's webhook named none and no account is configured).
    waba_id = models.CharField(max_length=64, blank=True, default="")
    # Meta's template id; "" until Meta has named it (a status update may come before any sync).
    template_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    name = models.CharField(max_length=512)
    # Meta's locale code with an underscore (`en_US`); webhooks that write `en-US` are read the same way.
    language = models.CharField(max_length=16)
    category = models.CharField(max_length=32, blank=True, default="")
    # Meta's own value (APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ...), kept as sent.
    status = models.CharField(max_length=32, db_index=True)
    # Why Meta rejected or paused it (`reason` of the status webhook), when it said.
    reason = models.CharField(max_length=255, blank=True, default="")
    # Meta's `components` list exactly (HEADER, BODY, FOOTER, BUTTONS): what a send must fill.
    components = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "message template"
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["waba_id", "name", "language"], name="template_unique_per_account"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class WhatsAppMessage(models.Model):
    """One message object Meta sent or the hub sent, reactions and unsupported ones included."""

    message_id = models.CharField(max_length=255, unique=True)
    conversation = models.ForeignKey(WhatsAppConversation, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    from_number = models.CharField(max_length=128, db_index=True)
    to_number = models.CharField(max_length=128, blank=True, default="")
    from_name = models.CharField(max_length=256, blank=True, default="")
    message_type = models.CharField(max_length=64)
    text_body = models.TextField(blank=True, default="")
    caption = models.TextField(blank=True, default="")
    media_id = models.CharField(max_length=255, blank=True, default="")
    # The contract sends null until the file is stored (docs/design.md, section 3).
    media_url = models.CharField(max_length=1024, null=True, blank=True)  # noqa: DJ001
    media_mime_type = models.CharField(max_length=255, blank=True, default="")
    media_filename = models.CharField(max_length=255, blank=True, default="")
    media_sha256 = models.CharField(max_length=128, blank=True, default="")
    # Where the file lies in Django's storage, and why a download failed for good.
    media_path = models.CharField(max_length=512, blank=True, default="")
    media_error = models.CharField(max_length=512, blank=True, default="")
    # null means "this message has no media" (docs/design.md, section 3).
    media_status = models.CharField(  # noqa: DJ001
        max_length=16, choices=MediaStatus.choices, null=True, blank=True
    )
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    location_name = models.CharField(max_length=512, blank=True, default="")
    location_address = models.CharField(max_length=1024, blank=True, default="")
    interactive_id = models.CharField(max_length=512, blank=True, default="")
    reply_to = models.CharField(max_length=255, blank=True, default="")
    timestamp = models.DateTimeField(db_index=True)
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices)
    error_code = models.IntegerField(null=True, blank=True)
    error_title = models.CharField(max_length=512, blank=True, default="")
    read_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    raw = PerValueJSONField(default=dict, blank=True)
    # What the columns above cannot hold, from the parsed message: shared contact cards, an order, the
    # ad the customer came from, forward flags, a list reply's description, a Flow's answers. The keys
    # are `store.events.MessageContentJSON`'s (docs/message-content.md); absent ones were not sent.
    content = PerValueJSONField(default=dict, blank=True)
    notes = models.TextField(blank=True, default="")
    # `<credential>:<Idempotency-Key>` of the send that created it (or an auto-reply's rule key): a retried
    # request finds its first result instead of sending twice. NULL for everything else.
    idempotency_key = models.CharField(max_length=255, unique=True, null=True, blank=True)
    # SHA-256 of the request body the key was first used with: the same key with another body is refused.
    idempotency_body_hash = models.CharField(max_length=64, blank=True, default="")
    # When the call to Meta began: a send found pending with this set may have reached Meta.
    send_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "message"
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["conversation", "-timestamp", "-id"], name="message_thread_idx"),
            models.Index(fields=["-timestamp", "-id"], name="message_newest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.message_type} {self.message_id}"


class WhatsAppMessageStatus(models.Model):
    """One status Meta reported for a wamid; kept even when the wamid is unknown to the hub."""

    message = models.ForeignKey(
        WhatsAppMessage, on_delete=models.CASCADE, null=True, blank=True, related_name="statuses"
    )
    wamid = models.CharField(max_length=255, db_index=True)
    status = models.CharField(max_length=16)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    recipient_id = models.CharField(max_length=128, blank=True, default="")
    business_phone_number_id = models.CharField(max_length=64, blank=True, default="")
    conversation_id = models.CharField(max_length=255, blank=True, default="")
    conversation_origin = models.CharField(max_length=64, blank=True, default="")
    conversation_expires_at = models.DateTimeField(null=True, blank=True)
    pricing_billable = models.BooleanField(null=True, blank=True)
    pricing_model = models.CharField(max_length=64, blank=True, default="")
    pricing_category = models.CharField(max_length=64, blank=True, default="")
    pricing_type = models.CharField(max_length=64, blank=True, default="")
    biz_opaque_callback_data = models.TextField(blank=True, default="")
    errors = PerValueJSONField(default=list, blank=True)
    raw = PerValueJSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "message status"
        verbose_name_plural = "message statuses"
        ordering = ["timestamp", "id"]
        constraints = [models.UniqueConstraint(fields=["wamid", "status"], name="status_unique_per_wamid")]

    def __str__(self) -> str:
        return f"{self.wamid} {self.status}"


class WebhookEvent(models.Model):
    """A verified webhook body exactly as received, stored before parsing (audit and reprocessing)."""

    body = models.BinaryField()
    # Finds the copies a redelivery leaves ("" on rows stored before it was kept): prune_webhooks keeps one.
    body_sha256 = models.CharField(max_length=64, blank=True, default="", db_index=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        verbose_name = "webhook event"
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"webhook {self.pk} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class HubEvent(models.Model):
    """The event log clients replay from; `seq` is assigned in commit order (store/eventlog.py)."""

    seq = models.BigIntegerField(unique=True)
    type = models.CharField(max_length=32)
    conversation = models.ForeignKey(
        WhatsAppConversation, on_delete=models.CASCADE, related_name="events", null=True
    )
    payload = PerValueJSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "hub event"
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"{self.seq} {self.type}"


class HubSequence(models.Model):
    """One row holding the last `seq` handed out; its row lock serializes seq assignment."""

    name = models.CharField(max_length=32, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class ApiToken(models.Model):
    """A bearer token of a user; only its SHA-256 is stored. Scope fields empty means every conversation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    business_phone_number_id = models.CharField(max_length=64, blank=True, default="")
    phones = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Job(models.Model):
    """A durable background job (media download, read receipt, send retry), claimed with a lease."""

    kind = models.CharField(max_length=32)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=8, choices=JobState.choices, default=JobState.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    run_after = models.DateTimeField()
    leased_until = models.DateTimeField(null=True, blank=True)
    # NULL for jobs without a key: unique ignores NULLs, so only keyed jobs are deduplicated.
    dedupe_key = models.CharField(max_length=255, unique=True, null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "job"
        indexes = [models.Index(fields=["state", "run_after"], name="job_due_idx")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"

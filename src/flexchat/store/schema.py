"""One definition of the tables added since the first schema, rendered for each engine.

Types are named once (``text``, ``int``, ``bool``, ``seq``) and spelled per engine:
``seq`` is the ever-increasing row number lists page on (``INTEGER PRIMARY KEY
AUTOINCREMENT`` / ``bigint GENERATED ALWAYS AS IDENTITY``); ``bool`` is an integer in
SQLite and a boolean in PostgreSQL (Python's ``True`` binds to both; readers convert).
A key marked :class:`Hashed` is indexed as ``md5(col)`` in PostgreSQL, whose btree entries
must stay small, and as the column itself in SQLite (see ``sql.py`` for the lookups).
Dates stay ISO 8601 text, as the API writes them.

As in the first schema, PostgreSQL keys its paged tables by ``(account_sid, seq)`` so no
generic plan walks other accounts' rows; SQLite has ``seq`` as its rowid plus an index.
"""

from __future__ import annotations

from dataclasses import dataclass

ENGINES = ("sqlite", "postgres")

_TYPES = {
    "sqlite": {"text": "TEXT", "int": "INTEGER", "bool": "INTEGER", "float": "REAL"},
    "postgres": {"text": "text", "int": "bigint", "bool": "boolean", "float": "double precision"},
}


@dataclass(frozen=True)
class Hashed:
    """A long text column that indexes hold by its md5 in PostgreSQL."""

    name: str


@dataclass(frozen=True)
class Index:
    """An index (unique or not) on some columns; PostgreSQL names it as given."""

    name: str
    columns: tuple[str | Hashed, ...]
    unique: bool = False


@dataclass(frozen=True)
class Table:
    """A table: ``columns`` as ``(name, type, not_null)``; a ``seq`` row number first."""

    name: str
    columns: tuple[tuple[str, str, bool], ...]
    indexes: tuple[Index, ...] = ()
    paged: bool = True  # has a seq column and an (account_sid, seq) key

    def create(self, engine: str) -> list[str]:
        """The statements that create this table and its indexes on ``engine``."""
        types = _TYPES[engine]
        lines = []
        if self.paged:
            lines.append(
                "seq INTEGER PRIMARY KEY AUTOINCREMENT" if engine == "sqlite"
                else "seq bigint GENERATED ALWAYS AS IDENTITY"
            )
        for name, kind, not_null in self.columns:
            lines.append(f"{name} {types[kind]}{' NOT NULL' if not_null else ''}")
        statements = []
        if self.paged and engine == "postgres":
            lines.append(f"CONSTRAINT {self.name}_by_account PRIMARY KEY (account_sid, seq)")
        statements.append(f"CREATE TABLE {self.name} ({', '.join(lines)})")
        if self.paged and engine == "sqlite":
            statements.append(f"CREATE INDEX {self.name}_by_account ON {self.name} (account_sid, seq)")
        for index in self.indexes:
            columns = ", ".join(
                (f"md5({column.name})" if engine == "postgres" else column.name)
                if isinstance(column, Hashed) else column
                for column in index.columns
            )
            unique = "UNIQUE " if index.unique else ""
            statements.append(f"CREATE {unique}INDEX {index.name} ON {self.name} ({columns})")
        return statements


def render(tables: tuple[Table, ...], engine: str, before: tuple[str, ...] = (), after: tuple[str, ...] = ()) -> str:
    """A migration step: shared statements around the tables' DDL, ``;``-separated."""
    statements = [*before]
    for table in tables:
        statements.extend(table.create(engine))
    statements.extend(after)
    return ";\n".join(statements) + ";\n"


SID = ("sid", "text", True)
ACCOUNT = ("account_sid", "text", True)
SERVICE = ("service_sid", "text", True)
CHANNEL = ("channel_sid", "text", True)
DATES = (("date_created", "text", True), ("date_updated", "text", True))


def _sid_index(table: str) -> Index:
    return Index(f"{table}_sid", ("sid",), unique=True)


# Step 2: the Chat v2 conversation behind every Flex channel, and the outbox.
CHAT_SERVICES = Table(
    "chat_services",
    (SID, ACCOUNT, ("friendly_name", "text", True),
     # Every other service setting (roles, notifications, limits, webhooks) as one JSON
     # object: read and written whole, never queried by field.
     ("settings", "text", True), *DATES),
    (_sid_index("chat_services"),),
)
CHAT_USERS = Table(
    "chat_users",
    (SID, ACCOUNT, SERVICE, ("identity", "text", True), ("friendly_name", "text", False),
     ("attributes", "text", True), ("role_sid", "text", False), *DATES),
    (_sid_index("chat_users"),
     Index("chat_users_identity", ("account_sid", "service_sid", Hashed("identity")), unique=True),
     Index("chat_users_by_service", ("account_sid", "service_sid", "seq"))),
)
CHAT_CHANNELS = Table(
    "chat_channels",
    (SID, ACCOUNT, SERVICE, ("friendly_name", "text", False), ("unique_name", "text", False),
     ("attributes", "text", True), ("type", "text", True), ("created_by", "text", False),
     ("members_count", "int", True), ("messages_count", "int", True),
     # The index the next message gets: indexes survive deletes, so not a count.
     ("next_message_index", "int", True), *DATES),
    (_sid_index("chat_channels"),
     Index("chat_channels_unique_name", ("account_sid", "service_sid", Hashed("unique_name")), unique=True),
     Index("chat_channels_by_service", ("account_sid", "service_sid", "seq")),
     Index("chat_channels_by_type", ("account_sid", "service_sid", "type", "seq"))),
)
CHAT_MEMBERS = Table(
    "chat_members",
    (SID, ACCOUNT, SERVICE, CHANNEL, ("identity", "text", True), ("role_sid", "text", False),
     ("attributes", "text", True), ("last_consumed_message_index", "int", False),
     ("last_consumption_timestamp", "text", False), *DATES),
    (_sid_index("chat_members"),
     Index("chat_members_identity", ("channel_sid", Hashed("identity")), unique=True),
     Index("chat_members_by_channel", ("channel_sid", "seq")),
     Index("chat_members_by_identity", ("account_sid", "service_sid", Hashed("identity"), "seq"))),
)
CHAT_MESSAGES = Table(
    "chat_messages",
    (SID, ACCOUNT, SERVICE, CHANNEL, ("message_index", "int", True), ("author", "text", True),
     ("body", "text", False), ("attributes", "text", True), ("media_sid", "text", False),
     ("last_updated_by", "text", False), ("was_edited", "bool", True), *DATES),
    (_sid_index("chat_messages"), Index("chat_messages_by_channel", ("channel_sid", "seq"))),
)
CHAT_WEBHOOKS = Table(
    "chat_webhooks",
    (SID, ACCOUNT, SERVICE, CHANNEL, ("type", "text", True),
     # url, method, filters, triggers, flow_sid, retry_count as the API shows them.
     ("configuration", "text", True), *DATES),
    (_sid_index("chat_webhooks"), Index("chat_webhooks_by_channel", ("channel_sid", "seq"))),
)
# One row per (event, destination), written in the transaction of the change that raised
# it. ``state``: pending, delivered, failed (retries exhausted) or recorded (a studio
# webhook: nothing is sent over HTTP). Times in milliseconds since the epoch.
OUTBOX = Table(
    "outbox",
    (ACCOUNT, ("service_sid", "text", False), ("channel_sid", "text", False),
     ("webhook_sid", "text", False), ("kind", "text", True), ("event_type", "text", True),
     ("url", "text", False), ("method", "text", True), ("params", "text", True),
     ("retry_count", "int", True), ("attempts", "int", True), ("state", "text", True),
     ("next_attempt_at", "int", True), ("claimed_until", "int", True), ("date_created", "text", True)),
    (Index("outbox_due", ("state", "next_attempt_at")),
     Index("outbox_by_channel", ("channel_sid", "seq"))),
)
DELIVERY_ATTEMPTS = Table(
    "delivery_attempts",
    (ACCOUNT, ("outbox_seq", "int", True), ("attempt", "int", True), ("started_at", "text", True),
     ("duration_ms", "float", True), ("status_code", "int", False), ("error", "text", False),
     ("response_start", "text", False), ("signature", "text", True)),
    (Index("delivery_attempts_by_event", ("outbox_seq", "seq")),),
)

STEP_2_TABLES = (CHAT_SERVICES, CHAT_CHANNELS, CHAT_MEMBERS, CHAT_MESSAGES, CHAT_WEBHOOKS, OUTBOX, DELIVERY_ATTEMPTS)
# The first schema's chat_users (sid, identity and friendly name only) becomes the full
# Chat v2 user: built anew and filled from the old rows, in the same statements for both.
_STEP_2_BEFORE = ("ALTER TABLE chat_users RENAME TO chat_users_v1",)
_STEP_2_AFTER = (
    "INSERT INTO chat_users (sid, account_sid, service_sid, identity, friendly_name, attributes,"
    " date_created, date_updated) SELECT sid, account_sid, chat_service_sid, identity, friendly_name, '{}',"
    " date_created, date_created FROM chat_users_v1 ORDER BY date_created, sid",
    "DROP TABLE chat_users_v1",
    # Webhooks are signed with the account's auth token, so it is kept (docs/webhooks.md).
    "ALTER TABLE accounts ADD COLUMN auth_token text",
)


def step_2(engine: str) -> str:
    """Migration step 2 for ``engine``."""
    # The old unique index's name would clash with the new one in PostgreSQL.
    before = _STEP_2_BEFORE + (("DROP INDEX chat_users_identity",) if engine == "postgres" else ())
    return render((*STEP_2_TABLES, CHAT_USERS), engine, before, _STEP_2_AFTER)


# Step 3: Flex's web channels (a Flex channel made by the web chat widget) and each
# account's Flex configuration (one JSON object, read and written whole).
WEB_CHANNELS = Table(
    "web_channels",
    (SID, ACCOUNT, ("flex_flow_sid", "text", True), ("post_engagement_data", "text", False), *DATES),
    (_sid_index("web_channels"),),
)
FLEX_CONFIGURATIONS = Table(
    "flex_configurations",
    (ACCOUNT, ("configuration", "text", True), *DATES),
    (Index("flex_configurations_account", ("account_sid",), unique=True),),
    paged=False,
)
STEP_3_TABLES = (WEB_CHANNELS, FLEX_CONFIGURATIONS)


def step_3(engine: str) -> str:
    """Migration step 3 for ``engine``."""
    return render(STEP_3_TABLES, engine)


# Step 4: a Flex channel is open (``active``) until its chat is marked INACTIVE; only an
# open channel is unique per (account, flow, Identity), so a closed one is never reused
# and the contact's next POST /v1/Channels opens a new channel. Step 1 declared that
# uniqueness inline in SQLite, where a constraint cannot be dropped: the table is rebuilt
# there (rows, row numbers and the AUTOINCREMENT counter kept); PostgreSQL swaps an index.
_CHANNELS_COLUMNS_V1 = (
    "seq, sid, account_sid, flex_flow_sid, chat_service_sid, identity, user_sid, task_sid, target,"
    " chat_friendly_name, chat_unique_name, chat_user_friendly_name, pre_engagement_data, task_attributes,"
    " long_lived, date_created, date_updated"
)
_STEP_4 = {
    "sqlite": (
        "CREATE TABLE channels_v4 (seq INTEGER PRIMARY KEY AUTOINCREMENT, sid TEXT NOT NULL UNIQUE,"
        " account_sid TEXT NOT NULL, flex_flow_sid TEXT NOT NULL, chat_service_sid TEXT NOT NULL,"
        " identity TEXT NOT NULL, user_sid TEXT NOT NULL, task_sid TEXT, target TEXT,"
        " chat_friendly_name TEXT NOT NULL, chat_unique_name TEXT, chat_user_friendly_name TEXT NOT NULL,"
        " pre_engagement_data TEXT, task_attributes TEXT, long_lived INTEGER, date_created TEXT NOT NULL,"
        " date_updated TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1,"
        " UNIQUE (account_sid, chat_service_sid, chat_unique_name))",
        f"INSERT INTO channels_v4 ({_CHANNELS_COLUMNS_V1}) SELECT {_CHANNELS_COLUMNS_V1} FROM channels",
        # Row numbers are never reused (the channel cache and page tokens rely on it): the
        # counter carries over even where the newest channels were deleted.
        "INSERT OR REPLACE INTO sqlite_sequence (name, seq)"
        " SELECT 'channels_v4', seq FROM sqlite_sequence WHERE name = 'channels'",
        "DROP TABLE channels",
        "ALTER TABLE channels_v4 RENAME TO channels",
        "CREATE INDEX channels_by_account ON channels (account_sid, seq)",
        "CREATE UNIQUE INDEX channels_open_identity ON channels (account_sid, flex_flow_sid, identity) WHERE active",
    ),
    "postgres": (
        "ALTER TABLE channels ADD COLUMN active boolean NOT NULL DEFAULT true",
        "DROP INDEX channels_identity",
        "CREATE UNIQUE INDEX channels_open_identity ON channels (account_sid, flex_flow_sid, md5(identity))"
        " WHERE active",
    ),
}


def step_4(engine: str) -> str:
    """Migration step 4 for ``engine``."""
    return ";\n".join(_STEP_4[engine]) + ";\n"


# Step 5: fault rules (docs/operations.md), one per account and route family.
FAULTS = Table(
    "faults",
    (ACCOUNT, ("family", "text", True), ("error_rate", "float", True), ("error_status", "int", True),
     ("throttle_rate", "float", True), ("throttle_burst", "int", True), ("latency_ms", "int", True),
     ("drop_delivery_rate", "float", True), ("date_updated", "text", True)),
    (Index("faults_by_family", ("account_sid", "family"), unique=True),),
    paged=False,
)


def step_5(engine: str) -> str:
    """Migration step 5 for ``engine``."""
    return render((FAULTS,), engine)



# Step 6: a chat service's sid is unique per account, not across accounts. A Flex Flow's
# ChatServiceSid is whatever its author wrote (often a made-up ``IS000...``), and the
# service is created for it on first use: two accounts (two tests on one server, each with
# a fresh account) naming the same sid must each get their own service, not a 404 because
# the other one claimed it. Every query already selects services by sid and account.
_STEP_6 = (
    "DROP INDEX chat_services_sid",
    "CREATE UNIQUE INDEX chat_services_sid ON chat_services (sid, account_sid)",
)


def step_6(engine: str) -> str:
    """Migration step 6 for ``engine`` (the same statements on both)."""
    return render((), engine, _STEP_6)


# Step 7: the TaskRouter subset (workspaces, workflows, task channels, tasks and each
# task's moves) and Studio executions.
# Workspaces and workflows are unique per account (sid, account_sid), like chat services:
# a Flex Flow names them by sid, and flexchat creates them on first use (docs/compatibility.md).
WORKSPACE = ("workspace_sid", "text", True)
TR_WORKSPACES = Table(
    "tr_workspaces",
    (SID, ACCOUNT, ("friendly_name", "text", True), ("event_callback_url", "text", False),
     ("events_filter", "text", False), ("multi_task_enabled", "bool", True),
     ("prioritize_queue_order", "text", True), ("default_activity_sid", "text", True),
     ("default_activity_name", "text", True), ("timeout_activity_sid", "text", True),
     ("timeout_activity_name", "text", True), *DATES),
    (Index("tr_workspaces_sid", ("sid", "account_sid"), unique=True),),
)
TR_WORKFLOWS = Table(
    "tr_workflows",
    (SID, ACCOUNT, WORKSPACE, ("friendly_name", "text", True), ("configuration", "text", True),
     ("assignment_callback_url", "text", False), ("fallback_assignment_callback_url", "text", False),
     ("task_reservation_timeout", "int", True), *DATES),
    (Index("tr_workflows_sid", ("sid", "account_sid"), unique=True),
     Index("tr_workflows_by_workspace", ("workspace_sid", "seq"))),
)
TR_TASK_CHANNELS = Table(
    "tr_task_channels",
    (SID, ACCOUNT, WORKSPACE, ("friendly_name", "text", True), ("unique_name", "text", True),
     ("channel_optimized_routing", "bool", False), *DATES),
    (_sid_index("tr_task_channels"),
     Index("tr_task_channels_unique_name", ("workspace_sid", Hashed("unique_name")), unique=True),
     Index("tr_task_channels_by_workspace", ("workspace_sid", "seq"))),
)
TR_TASKS = Table(
    "tr_tasks",
    (SID, ACCOUNT, WORKSPACE, ("workflow_sid", "text", False), ("workflow_friendly_name", "text", False),
     ("task_channel_sid", "text", False), ("task_channel_unique_name", "text", False),
     ("assignment_status", "text", True), ("attributes", "text", True), ("priority", "int", True),
     ("timeout", "int", True), ("reason", "text", False), ("task_queue_sid", "text", False),
     ("task_queue_friendly_name", "text", False), ("task_queue_entered_date", "text", False),
     ("virtual_start_time", "text", True), ("routing_target", "text", False),
     ("ignore_capacity", "bool", False), ("addons", "text", True),
     # Bumped by every change: the ETag that If-Match compares.
     ("version", "int", True),
     # The chat channel the task is about (its channelSid attribute), for the channel's timeline.
     ("channel_sid", "text", False), *DATES),
    (_sid_index("tr_tasks"),
     Index("tr_tasks_by_workspace", ("workspace_sid", "seq")),
     Index("tr_tasks_by_status", ("workspace_sid", "assignment_status", "seq")),
     Index("tr_tasks_by_channel", ("account_sid", "channel_sid", "seq"))),
)
# A task's history: one row per move (the first has no from_status: the creation).
TR_TASK_EVENTS = Table(
    "tr_task_events",
    (ACCOUNT, WORKSPACE, ("task_sid", "text", True), ("from_status", "text", False),
     ("to_status", "text", True), ("reason", "text", False), ("channel_sid", "text", False),
     ("date_created", "text", True)),
    (Index("tr_task_events_by_task", ("task_sid", "seq")),
     Index("tr_task_events_by_channel", ("account_sid", "channel_sid", "seq"))),
)
STUDIO_EXECUTIONS = Table(
    "studio_executions",
    (SID, ACCOUNT, ("flow_sid", "text", True), ("contact_sid", "text", True),
     ("contact_channel_address", "text", True), ("flow_version", "int", True), ("status", "text", True),
     # The execution context (trigger, flow, contact, widgets) as one JSON object.
     ("context", "text", True), ("initiated_by", "text", False),
     # The chat channel whose message triggered it (None for a REST create).
     ("channel_sid", "text", False), *DATES),
    (_sid_index("studio_executions"),
     Index("studio_executions_by_channel", ("account_sid", "channel_sid", "seq")),
     Index("studio_executions_by_flow", ("account_sid", "flow_sid", "seq")),
     Index("studio_executions_contact", ("account_sid", "flow_sid", Hashed("contact_channel_address")))),
)
STEP_7_TABLES = (TR_WORKSPACES, TR_WORKFLOWS, TR_TASK_CHANNELS, TR_TASKS, TR_TASK_EVENTS, STUDIO_EXECUTIONS)


def step_7(engine: str) -> str:
    """Migration step 7 for ``engine``: TaskRouter and Studio."""
    return render(STEP_7_TABLES, engine)


# Step 8: Flex's orchestration. A Flex channel's task can now change after the channel was
# made (a task at the first message, a long-lived channel's next task), so the row is no
# longer immutable: ``change_counters`` counts such changes, and the SQLite store's
# channel cache (store/sqlite.py) starts afresh whenever the count moved, in any process.
# The janitor finds a task's channels by ``task_sid``.
CHANGE_COUNTERS = Table(
    "change_counters",
    (("name", "text", True), ("value", "int", True)),
    (Index("change_counters_name", ("name",), unique=True),),
    paged=False,
)


def step_8(engine: str) -> str:
    """Migration step 8 for ``engine``."""
    return render(
        (CHANGE_COUNTERS,), engine,
        after=(
            "INSERT INTO change_counters (name, value) VALUES ('flex_channels', 0)",
            "CREATE INDEX channels_by_task ON channels (account_sid, task_sid)",
        ),
    )


# Every table rendered from this module, for the schema tests.
RENDERED_TABLES: tuple[Table, ...] = (
    *STEP_2_TABLES, CHAT_USERS, *STEP_3_TABLES, FAULTS, *STEP_7_TABLES, CHANGE_COUNTERS
)


# Step 9: credentials as Twilio's IAM and Accounts APIs manage them.
# API keys become a paged table (the IAM list pages on seq) with a type and an update
# date; the first schema's rows are copied across in creation order. ``key_type``:
# ``standard`` (made over REST, cannot manage keys or tokens) or ``main`` (made by the
# CLI, Twilio's "Main" key made in the Console).
API_KEYS = Table(
    "api_keys",
    (SID, ACCOUNT, ("friendly_name", "text", False), ("secret_hash", "text", True),
     ("key_type", "text", True), *DATES),
    (_sid_index("api_keys"),),
)
STEP_9_TABLES = (API_KEYS,)
# Every table whose DDL is rendered here, as the migration tests count them.
RENDERED_TABLES = (*RENDERED_TABLES, *STEP_9_TABLES)
_STEP_9_BEFORE = ("ALTER TABLE api_keys RENAME TO api_keys_v1",)
_STEP_9_AFTER = (
    "INSERT INTO api_keys (sid, account_sid, friendly_name, secret_hash, key_type, date_created, date_updated)"
    " SELECT sid, account_sid, friendly_name, secret_hash, 'standard', date_created, date_created"
    " FROM api_keys_v1 ORDER BY date_created, sid",
    "DROP TABLE api_keys_v1",
    # Auth token rotation: a secondary token that works beside the primary until it is
    # promoted (its hash authenticates; its text becomes ``auth_token``, which signs
    # webhooks, on promotion) or deleted.
    "ALTER TABLE accounts ADD COLUMN secondary_token_hash text",
    "ALTER TABLE accounts ADD COLUMN secondary_auth_token text",
    "ALTER TABLE accounts ADD COLUMN secondary_date_created text",
    "ALTER TABLE accounts ADD COLUMN date_updated text",
)


def step_9(engine: str) -> str:
    """Migration step 9 for ``engine``."""
    return render(STEP_9_TABLES, engine, _STEP_9_BEFORE, _STEP_9_AFTER)


# Step 10: a message's ``version``, bumped by every update of its row (deletes remove the
# row, and row numbers are never reused). A process keeps the rendered JSON of messages it
# listed keyed by (row number, version): a page reads only the two numbers of its rows and
# renders just the ones it does not hold at that version (api/chat/messages.py).
def step_10(engine: str) -> str:
    """Migration step 10 for ``engine``."""
    column = f"version {_TYPES[engine]['int']} NOT NULL DEFAULT 0"
    return render((), engine, (f"ALTER TABLE chat_messages ADD COLUMN {column}",))


# Step 11: a claim walks only pending events, in the order they fall due. Its index
# holds what the claim filters on, so events in flight (claimed) are skipped inside the
# index, events waiting for a retry lie beyond the range, and delivered ones are not in
# it at all. With (state, next_attempt_at) and ORDER BY seq, a claim under a backlog of
# 5,000 read every pending row and sorted them: 1.2 ms, on the single writer.
_STEP_11_AFTER = (
    "DROP INDEX outbox_due",
    "CREATE INDEX outbox_pending ON outbox (next_attempt_at, claimed_until) WHERE state = 'pending'",
)


def step_11(engine: str) -> str:
    """Migration step 11 for ``engine``."""
    return render((), engine, after=_STEP_11_AFTER)


# Step 12: each record a channel's timeline merges (messages, outbox events, task moves,
# Studio executions) gets ``created_us``, microseconds since the epoch written by the
# statement that inserts it (clock.now_us: strictly increasing within a process), so
# what happened within one second is ordered as it happened; ``date_created`` keeps
# Twilio's whole seconds on the wire. Rows from before this step have NULL and are
# ordered by ``date_created`` alone (clock.order_us).
TIMED_TABLES = ("chat_messages", "outbox", "tr_task_events", "studio_executions")


def step_12(engine: str) -> str:
    """Migration step 12 for ``engine``."""
    column = f"created_us {_TYPES[engine]['int']}"
    return render((), engine, tuple(f"ALTER TABLE {table} ADD COLUMN {column}" for table in TIMED_TABLES))


# Step 13: a chat channel's ``messages_version``, bumped by every update of one of its
# messages (in the update's transaction). A message list then reads the channel's stamp
# and its page's row numbers from the index, not each message's own version from the
# table: a process keeps the messages' rendered JSON by (row number, stamp), and a row
# number names one message for ever, so that JSON is the message as it is now unless an
# update moved the stamp (api/chat/messages.py).
def step_13(engine: str) -> str:
    """Migration step 13 for ``engine``."""
    column = f"messages_version {_TYPES[engine]['int']} NOT NULL DEFAULT 0"
    return render((), engine, (f"ALTER TABLE chat_channels ADD COLUMN {column}",))

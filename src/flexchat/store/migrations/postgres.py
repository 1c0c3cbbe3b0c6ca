"""PostgreSQL schema steps; the ``schema_migrations`` table records which are applied.

The tables, columns and unique constraints mirror ``sqlite.py``, so both stores hold the
same rows and answer with the same order. Engine-specific types only: ``boolean`` for
flags, ``bytea`` for the paging secret, and ``seq`` as a bigint identity (the keyset the
lists page on). Dates stay ISO 8601 text exactly as the API sends them.

One deliberate difference: the primary key of ``flex_flows`` and ``channels`` is
``(account_sid, seq)``, where SQLite has ``seq`` alone plus an index on both. With no
index on ``seq`` alone, a cached generic plan for a list page cannot walk the whole table
in ``seq`` order filtering for one account (measured: 200 ms instead of 0.3 ms for a
small account's page beside a million-channel one). It is also the key shape a database
partitioned by account needs (docs/scaling.md).

Constraint names are spelled out because the store maps a violation of
``channels_chat_unique_name`` to ``ChatUniqueNameTaken`` by name.

Identities, ChatUniqueNames and FriendlyNames have no length limit (the spec sets none;
the body limit is 1 MB), but a btree entry must fit in about 2.7 kB, so their indexes
hold ``md5(value)``. The store looks them up by hash *and* value, so reads are exact;
uniqueness by hash could only be fooled by a crafted md5 collision within one account's
own data, and then the store would answer 503 for that create rather than a wrong row.
"""

from ..schema import step_2, step_3, step_4, step_5, step_6, step_7, step_8, step_9, step_10, step_11, step_12, step_13

STEPS: tuple[str, ...] = (
    # 1: accounts, API keys, Flex Flows, chat users, channels.
    """
    CREATE TABLE server_settings (
        name text PRIMARY KEY,
        value bytea NOT NULL
    );
    CREATE TABLE accounts (
        sid text PRIMARY KEY,
        friendly_name text,
        auth_token_hash text NOT NULL,
        date_created text NOT NULL
    );
    CREATE TABLE api_keys (
        sid text PRIMARY KEY,
        account_sid text NOT NULL REFERENCES accounts(sid),
        friendly_name text,
        secret_hash text NOT NULL,
        date_created text NOT NULL
    );
    CREATE TABLE flex_flows (
        seq bigint GENERATED ALWAYS AS IDENTITY,
        sid text NOT NULL CONSTRAINT flex_flows_sid UNIQUE,
        account_sid text NOT NULL,
        friendly_name text NOT NULL,
        chat_service_sid text NOT NULL,
        channel_type text NOT NULL,
        contact_identity text,
        enabled boolean NOT NULL,
        integration_type text NOT NULL,
        integration text NOT NULL,
        long_lived boolean NOT NULL,
        janitor_enabled boolean NOT NULL,
        date_created text NOT NULL,
        date_updated text NOT NULL,
        CONSTRAINT flex_flows_by_account PRIMARY KEY (account_sid, seq)
    );
    CREATE INDEX flex_flows_by_name ON flex_flows (account_sid, md5(friendly_name), seq);
    CREATE TABLE chat_users (
        sid text PRIMARY KEY,
        account_sid text NOT NULL,
        chat_service_sid text NOT NULL,
        identity text NOT NULL,
        friendly_name text NOT NULL,
        date_created text NOT NULL
    );
    CREATE UNIQUE INDEX chat_users_identity ON chat_users (account_sid, chat_service_sid, md5(identity));
    CREATE TABLE channels (
        seq bigint GENERATED ALWAYS AS IDENTITY,
        sid text NOT NULL CONSTRAINT channels_sid UNIQUE,
        account_sid text NOT NULL,
        flex_flow_sid text NOT NULL,
        chat_service_sid text NOT NULL,
        identity text NOT NULL,
        user_sid text NOT NULL,
        task_sid text,
        target text,
        chat_friendly_name text NOT NULL,
        chat_unique_name text,
        chat_user_friendly_name text NOT NULL,
        pre_engagement_data text,
        task_attributes text,
        long_lived boolean,
        date_created text NOT NULL,
        date_updated text NOT NULL,
        CONSTRAINT channels_by_account PRIMARY KEY (account_sid, seq)
    );
    CREATE UNIQUE INDEX channels_identity ON channels (account_sid, flex_flow_sid, md5(identity));
    CREATE UNIQUE INDEX channels_chat_unique_name ON channels (account_sid, chat_service_sid, md5(chat_unique_name));
    """,
    step_2("postgres"),
    step_3("postgres"),
    step_4("postgres"),
    step_5("postgres"),
    step_6("postgres"),
    step_7("postgres"),
    step_8("postgres"),
    step_9("postgres"),
    step_10("postgres"),
    step_11("postgres"),
    step_12("postgres"),
    step_13("postgres"),
)

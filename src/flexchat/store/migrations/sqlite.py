"""SQLite schema steps; ``PRAGMA user_version`` records how many are applied.

Step 1 was written by hand per engine; later steps are rendered from ``store/schema.py``.
"""

from ..schema import step_2, step_3, step_4, step_5, step_6, step_7, step_8, step_9, step_10, step_11, step_12, step_13

STEPS: tuple[str, ...] = (
    # 1: accounts, API keys, Flex Flows, chat users, channels.
    """
    CREATE TABLE server_settings (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    CREATE TABLE accounts (
        sid TEXT PRIMARY KEY,
        friendly_name TEXT,
        auth_token_hash TEXT NOT NULL,
        date_created TEXT NOT NULL
    );
    CREATE TABLE api_keys (
        sid TEXT PRIMARY KEY,
        account_sid TEXT NOT NULL REFERENCES accounts(sid),
        friendly_name TEXT,
        secret_hash TEXT NOT NULL,
        date_created TEXT NOT NULL
    );
    CREATE TABLE flex_flows (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        sid TEXT NOT NULL UNIQUE,
        account_sid TEXT NOT NULL,
        friendly_name TEXT NOT NULL,
        chat_service_sid TEXT NOT NULL,
        channel_type TEXT NOT NULL,
        contact_identity TEXT,
        enabled INTEGER NOT NULL,
        integration_type TEXT NOT NULL,
        integration TEXT NOT NULL,
        long_lived INTEGER NOT NULL,
        janitor_enabled INTEGER NOT NULL,
        date_created TEXT NOT NULL,
        date_updated TEXT NOT NULL
    );
    CREATE INDEX flex_flows_by_account ON flex_flows (account_sid, seq);
    CREATE INDEX flex_flows_by_name ON flex_flows (account_sid, friendly_name, seq);
    CREATE TABLE chat_users (
        sid TEXT PRIMARY KEY,
        account_sid TEXT NOT NULL,
        chat_service_sid TEXT NOT NULL,
        identity TEXT NOT NULL,
        friendly_name TEXT NOT NULL,
        date_created TEXT NOT NULL,
        UNIQUE (account_sid, chat_service_sid, identity)
    );
    CREATE TABLE channels (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        sid TEXT NOT NULL UNIQUE,
        account_sid TEXT NOT NULL,
        flex_flow_sid TEXT NOT NULL,
        chat_service_sid TEXT NOT NULL,
        identity TEXT NOT NULL,
        user_sid TEXT NOT NULL,
        task_sid TEXT,
        target TEXT,
        chat_friendly_name TEXT NOT NULL,
        chat_unique_name TEXT,
        chat_user_friendly_name TEXT NOT NULL,
        pre_engagement_data TEXT,
        task_attributes TEXT,
        long_lived INTEGER,
        date_created TEXT NOT NULL,
        date_updated TEXT NOT NULL,
        UNIQUE (account_sid, flex_flow_sid, identity),
        UNIQUE (account_sid, chat_service_sid, chat_unique_name)
    );
    CREATE INDEX channels_by_account ON channels (account_sid, seq);
    """,
    step_2("sqlite"),
    step_3("sqlite"),
    step_4("sqlite"),
    step_5("sqlite"),
    step_6("sqlite"),
    step_7("sqlite"),
    step_8("sqlite"),
    step_9("sqlite"),
    step_10("sqlite"),
    step_11("sqlite"),
    step_12("sqlite"),
    step_13("sqlite"),
)

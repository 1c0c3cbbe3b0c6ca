"""Studio statements (flow executions), written once for both engines."""

from __future__ import annotations

from ...domain.records import Execution, columns
from ..sql import sql

EXECUTION = columns(Execution)

INSERT_EXECUTION = sql(
    "INSERT INTO studio_executions (sid, account_sid, flow_sid, contact_sid, contact_channel_address,"
    " flow_version, status, context, initiated_by, channel_sid, date_created, date_updated, created_us)"
    f" VALUES (?, ?, ?, ?, ?, 1, 'active', ?, ?, ?, ?, ?, ?) RETURNING {EXECUTION}"
)
FETCH_EXECUTION = sql(f"SELECT {EXECUTION} FROM studio_executions WHERE sid = ? AND account_sid = ? AND flow_sid = ?")
# Studio keeps one Contact per address and flow: its sid is reused.
FETCH_CONTACT_SID = sql(
    "SELECT contact_sid FROM studio_executions WHERE account_sid = ? AND flow_sid = ?"
    " AND md5(contact_channel_address) = md5(?) AND contact_channel_address = ? LIMIT 1"
)
END_EXECUTION = sql(
    "UPDATE studio_executions SET status = 'ended', date_updated = ?"
    f" WHERE seq = ? AND account_sid = ? RETURNING {EXECUTION}"
)
DELETE_EXECUTION = sql(
    "DELETE FROM studio_executions WHERE sid = ? AND account_sid = ? AND flow_sid = ? RETURNING sid"
)
LIST_CHANNEL_EXECUTIONS = sql(
    f"SELECT {EXECUTION} FROM studio_executions WHERE account_sid = ? AND channel_sid = ? ORDER BY seq"
)

"""The products the conformance suite (tests/test_conformance.py) covers, one table each:
Twilio's OpenAPI file, the operations flexchat implements, a scenario through them and a
world of real resources for generated requests (see tests/helpers/conformance.py Table).

A new product: a module here with its Table, added to TABLES.
"""

from __future__ import annotations

from ..helpers.conformance import Table
from . import chat_v2, flex_v1, studio_v2, taskrouter_v1

TABLES: list[Table] = [flex_v1.TABLE, chat_v2.TABLE, chat_v2.CHANNEL_TABLE, taskrouter_v1.TABLE, studio_v2.TABLE]

"""Studio v2 (studio.twilio.com): flow executions."""

"""Twilio Accounts v1 (accounts.twilio.com): auth token rotation."""

"""Twilio REST API 2010-04-01 (api.twilio.com): the API keys of an account."""

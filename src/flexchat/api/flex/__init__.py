"""Flex API v1: flex-api.twilio.com."""

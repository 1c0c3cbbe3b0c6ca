"""Programmable Chat v2: chat.twilio.com."""

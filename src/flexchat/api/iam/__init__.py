"""Twilio IAM v1 (iam.twilio.com): API keys."""

"""flexchat's own API (``/flexchat/v1/...``): what Twilio has no resource for, kept out
of Twilio's paths so no Twilio client or spec ever meets it."""

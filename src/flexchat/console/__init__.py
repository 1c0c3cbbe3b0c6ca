"""The web console served at ``/console`` (docs/console.md): a session-cookie login over
the API's credentials, JSON endpoints under ``/console/api/`` that run the same domain
scripts as the Twilio API, live transcripts over server-sent events, and the static
front end shipped inside the package."""

"""TaskRouter v1 (taskrouter.twilio.com): workspaces, workflows, task channels, tasks."""

"""flexchat's own namespace (/flexchat/v1/...): faults, deliveries, playing the agent."""

"""The wire: one package per Twilio product, one module per resource."""

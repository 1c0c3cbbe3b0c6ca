"""One module per API resource; endpoint functions are named after the API operations."""

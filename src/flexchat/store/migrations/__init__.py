"""Numbered schema steps, one list per engine. A step is never edited once released:
add a new one. Each engine's store applies the pending steps in one transaction."""

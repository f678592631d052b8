"""Custom actions: read the tracker, ask the knowledge layer, render a reply."""

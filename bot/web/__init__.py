"""The demo store's web front: a product grid from the knowledge graph and the chat widget (``shopbot web``)."""

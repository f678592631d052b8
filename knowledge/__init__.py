"""Everything the shop assistant knows, with no Rasa in it."""

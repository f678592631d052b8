"""Input channels of the Rasa server beyond Rasa's own."""

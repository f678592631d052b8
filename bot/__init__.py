"""The shopbot assistant: Rasa domain, custom NLU components, CLI and web app."""

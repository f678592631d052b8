"""The hand-over to a person, outside the actions: the Rasa server's relay into conversations (``relay``), the web
app's client of it (``client``), transcripts read from the tracker store (``transcript``), the helpdesk webhook
(``webhook``, ``outbox``) and the containment figures (``figures``)."""

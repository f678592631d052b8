"""Find catalog phrases (products, brands, categories, colours, materials) in a shopper's message."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A catalog phrase found in a text."""

    label: str
    start: int
    end: int
    text: str


class PhraseTagger:
    """A spaCy PhraseMatcher over the catalog's phrases, matching case-insensitively."""

    def __init__(self, phrases: dict[str, list[str]]) -> None:
        import spacy
        from spacy.matcher import PhraseMatcher

        self._nlp = spacy.blank("en")
        self._matcher = PhraseMatcher(self._nlp.vocab, attr="LOWER")
        for label, items in phrases.items():
            if items:
                self._matcher.add(label, list(self._nlp.tokenizer.pipe(items)))

    def tag(self, text: str) -> list[Span]:
        """The longest non-overlapping catalog phrases in a text, in order."""
        from spacy.tokens import Span as DocSpan
        from spacy.util import filter_spans

        doc = self._nlp.make_doc(text[:5000])
        spans = [DocSpan(doc, start, end, label=key) for key, start, end in self._matcher(doc)]
        return [Span(span.label_, span.start_char, span.end_char, span.text) for span in filter_spans(spans)]

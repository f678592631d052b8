"""Support staff editing the knowledge graph: terms, changes, validation, optimistic concurrency, audit, revert.

    from knowledge.editing import Editor, set_value
    editor = Editor.from_settings()                  # SPARQL endpoint and shop database from the environment
    triples, version = editor.document("P0001")      # the product's document and its version
    change = set_value(editor.kg, "P0001", "schema:price", "99.00")   # goes to prod:P0001-offer
    result = editor.apply(change, "alice", expected={"P0001": version})
    print(result.record.id, result.record.lines())
    editor.revert(result.record.id, "alice")

Modules: ``terms`` (parse and print terms, N-Triples), ``documents`` (a product's document and version),
``changes`` (:class:`Change` and its builders), ``checks`` (SHACL with readable messages), ``audit`` (the
``kg_changes`` log), ``editor`` (:class:`Editor`: apply, revert, history, export), ``errors``.
"""

from knowledge.editing.audit import ChangeRecord, get_change, history
from knowledge.editing.changes import (
    Change,
    add,
    create_product,
    delete_product,
    import_csv,
    import_turtle,
    invert,
    remove,
    set_value,
    update_product,
)
from knowledge.editing.documents import Document, doc_key, document, next_product_id, versions
from knowledge.editing.editor import Editor, EditResult, export_turtle
from knowledge.editing.errors import (
    ChangeNotFound,
    EditConflict,
    EditError,
    EmptyChange,
    PermissionDenied,
    ValidationFailed,
)
from knowledge.editing.terms import (
    EMPTY_VERSION,
    compact,
    format_triple,
    from_ntriples,
    parse_object,
    parse_predicate,
    parse_subject,
    parse_term,
    parse_triple,
    to_ntriples,
    version_of,
)

__all__ = [
    "EMPTY_VERSION",
    "Change",
    "ChangeNotFound",
    "ChangeRecord",
    "Document",
    "EditConflict",
    "EditError",
    "EditResult",
    "Editor",
    "EmptyChange",
    "PermissionDenied",
    "ValidationFailed",
    "add",
    "compact",
    "create_product",
    "delete_product",
    "doc_key",
    "document",
    "export_turtle",
    "format_triple",
    "from_ntriples",
    "get_change",
    "history",
    "import_csv",
    "import_turtle",
    "invert",
    "next_product_id",
    "parse_object",
    "parse_predicate",
    "parse_subject",
    "parse_term",
    "parse_triple",
    "remove",
    "set_value",
    "to_ntriples",
    "update_product",
    "version_of",
    "versions",
]

"""Operation documents a subgraph has parsed and validated, kept by their text.

Clients (and the gateway on their behalf) send the same few documents again and again; parsing
and validating each anew was some 40 % of a station search's CPU (bench/README.md). Strawberry's
own ``ParserCache`` and ``ValidationCache`` do not fit: the first raises a refused document's
error outside the step that gives it its code, and the second keys on the parsed document and
the rule classes, which the depth and alias limiters make anew for every operation, so it never
hit.

A document is kept under its text *and* what it was checked with: the parse options (the token
limit) and the validation rules (the depth and alias limits among them). A document checked
under one set of limits is never taken as checked under another, and its refusal is kept with
it, so a cached document is refused exactly as a new one. What does not parse (a syntax error,
past the token limit) is not kept: the parser stops at the limit, so refusing it again is cheap,
and it keeps the cache for documents that work.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Final

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension

#: Distinct documents a schema keeps.
MAX_DOCUMENTS: Final = 512
#: Longer texts are checked every time: a client's documents are a few KiB at most, and the
#: bound keeps the cache's memory in proportion (a parsed document is some 30 times its text).
MAX_TEXT: Final = 16 * 1024


@dataclass(frozen=True, slots=True)
class Checked:
    document: DocumentNode
    errors: tuple[GraphQLError, ...]  # empty: valid


class DocumentCache:
    """A bounded least-recently-used map of checked documents, one per schema (the event loop
    is its only user, so no lock)."""

    def __init__(self, max_documents: int = MAX_DOCUMENTS, max_text: int = MAX_TEXT) -> None:
        self.max_documents = max_documents
        self.max_text = max_text
        self._documents: OrderedDict[Hashable, Checked] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, key: Hashable) -> Checked | None:
        found = self._documents.get(key)
        if found is None:
            self.misses += 1
            return None
        self._documents.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: Hashable, checked: Checked) -> None:
        self._documents[key] = checked
        self._documents.move_to_end(key)
        while len(self._documents) > self.max_documents:
            self._documents.popitem(last=False)

    def extension(self) -> type[SchemaExtension]:
        """The schema extension that reads and fills this cache (a class: Strawberry makes
        one per operation)."""
        cache = self

        class CachedDocuments(SchemaExtension):
            key: Hashable | None = None
            found: Checked | None = None

            def on_parse(self) -> Iterator[None]:
                context = self.execution_context
                query = context.query
                if query is not None and len(query) <= cache.max_text:
                    # The limiters' on_operation has set both before parsing starts.
                    self.key = (
                        query,
                        tuple(sorted(context.parse_options.items())),
                        tuple(context.validation_rules),
                    )
                    self.found = cache.get(self.key)
                    if self.found is not None:
                        context.graphql_document = self.found.document
                yield

            def on_validate(self) -> Iterator[None]:
                context = self.execution_context
                if self.found is not None:
                    # Strawberry validates only while no errors are set.
                    context.pre_execution_errors = list(self.found.errors)
                    yield
                    return
                yield
                document = context.graphql_document
                if self.key is not None and document is not None:
                    errors = tuple(context.pre_execution_errors or ())
                    cache.put(self.key, Checked(document, errors))

        return CachedDocuments

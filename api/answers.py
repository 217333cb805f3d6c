"""Answers of list reads kept for the next caller who would get the same bytes.

A JSON list of a layer's records (whole, or one page's) is the same for every caller with
the server token until the projector next changes that document's rows. The key holds the
document's generation (``ReadModelWriter.generation``), which moves only after
such a change has committed, and is read before the query: an answer read during a commit
is kept under the generation that commit ends, so it is never served once the change is
visible (a write is answered only after its generation moved). JWT callers, whose answers
depend on their grants, are never served from here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

Generation = tuple[int, int]  # (epoch, count): ordered, and never repeats for a document

MAX_BYTES = 16 << 20  # all answers kept
MAX_ANSWER = 1 << 20  # larger answers (some 2,500 records) are not kept


class AnswerCache:
    """A least-recently-used map of answer bytes, bounded by their total size. Each question
    keeps only its answer of the latest generation: under steady writes, answers of past
    generations would otherwise fill the cache (each write to a document moves its count)."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_answer: int = MAX_ANSWER) -> None:
        self.max_bytes = max_bytes
        self.max_answer = max_answer
        self.bytes = 0
        self.hits = 0
        self._answers: OrderedDict[Hashable, tuple[Generation, bytes]] = OrderedDict()

    def get(self, question: Hashable, generation: Generation) -> bytes | None:
        """The answer kept for ``question`` at ``generation``, if any."""
        kept = self._answers.get(question)
        if kept is None or kept[0] != generation:
            return None
        self._answers.move_to_end(question)
        self.hits += 1
        return kept[1]

    def put(self, question: Hashable, generation: Generation, body: bytes) -> None:
        """Keep an answer read at ``generation`` (never over one of a later generation)."""
        if len(body) > self.max_answer:
            return
        previous = self._answers.get(question)
        if previous is not None:
            if previous[0] > generation:
                return
            del self._answers[question]
            self.bytes -= len(previous[1])
        self._answers[question] = (generation, body)
        self.bytes += len(body)
        while self.bytes > self.max_bytes:
            self.bytes -= len(self._answers.popitem(last=False)[1][1])

    def __len__(self) -> int:
        return len(self._answers)

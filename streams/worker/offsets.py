"""Source offsets, owned by one object: what is applied, what is durable, what to commit.

Offsets apply strictly in order. For every source partition the worker holds the next
offset to apply (its position); a message below it was applied before (Kafka delivers
again after a restart), one above it came past a hole, which the worker checks in the
log before going on (`rewinds`). The changelog's flush markers name the positions their
state includes (`marked`), and the offsets committed to the group are exactly those
(`committable`): never beyond state that is on the broker.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

log = logging.getLogger(__name__)
TP = tuple[str, int]  # (topic, partition); Faust's TP is such a tuple
APPLY, AGAIN, PAST_A_HOLE = "apply", "again", "past a hole"


class SourceOffsets:
    def __init__(self) -> None:
        self.positions: dict[TP, int] = {}  # next offset to apply; lower ones are in the state
        self.rewinds: dict[TP, int] = {}  # to read again from here: a message came past a hole
        # batches that cannot be decoded, per partition: first offset -> offset after them
        self.undecodable: dict[TP, dict[int, int]] = {}
        # per state partition, per source "topic/partition": the last source offset applied
        # from the re-keyed topic (a crashed worker re-sends what follows its last flush)
        self.forwarded: dict[int, dict[str, int]] = {}
        self.marked: dict[int, dict[str, int]] = {}  # positions in each partition's last marker
        self.committed: dict[TP, int] = {}  # what we last committed

    # -- applying -----------------------------------------------------------------------

    def admit(self, tp: TP, offset: int) -> str:
        """APPLY (and move the position past it), AGAIN (applied before) or PAST_A_HOLE."""
        expected = self.positions.get(tp)
        if expected is not None and offset > expected and tp in self.undecodable:
            expected = self._step_over_undecodable(tp)
        if expected is None or offset == expected:
            self.positions[tp] = offset + 1
            return APPLY
        if offset < expected:
            return AGAIN
        if tp not in self.rewinds:  # never past a hole: the worker reads it again
            log.debug("Kafka delivered %s[%d]@%d while @%d is next", *tp, offset, expected)
            self.rewinds[tp] = expected
        return PAST_A_HOLE

    def sent_again(self, partition: int, topic: str, source_partition: int,
                   offset: int) -> bool:
        """True for a re-keyed record whose source message was applied already."""
        applied = self.forwarded.setdefault(partition, {})
        name = f"{topic}/{source_partition}"
        if offset <= applied.get(name, -1):
            return True
        applied[name] = offset
        return False

    def start_at(self, tp: TP, offset: int) -> None:
        """A partition assigned with nothing applied yet starts here."""
        self.positions.setdefault(tp, offset)

    def skip_hole(self, tp: TP, first: int) -> None:
        """Offsets from the position up to `first` hold no records (transaction markers,
        or deleted by retention): go on from `first`."""
        log.info("%s[%d] has no records at offsets %d..%d (transaction markers, or deleted "
                 "by retention): going on from @%d", *tp, self.positions[tp], first - 1, first)
        self.positions[tp] = first

    def skip_undecodable(self, tp: TP, first: int, end: int) -> None:
        """Offsets [first, end) are a batch that cannot be decoded: go on after it."""
        self.undecodable.setdefault(tp, {})[first] = end
        self._step_over_undecodable(tp)

    def _step_over_undecodable(self, tp: TP) -> int | None:
        skipped = self.undecodable[tp]
        while (position := self.positions.get(tp)) in skipped:
            self.positions[tp] = skipped.pop(position)  # type: ignore[arg-type]
        return self.positions.get(tp)

    def take_rewinds(self) -> dict[TP, int]:
        rewinds, self.rewinds = self.rewinds, {}
        return rewinds

    def lag(self, tp: TP, end: int) -> int:
        """Messages of a source partition on the broker (up to `end`) not applied yet."""
        return max(0, end - self.positions.get(tp, 0))

    # -- markers and commits --------------------------------------------------------------

    def to_mark(self, changed: Iterable[int], skip: set[int]) -> dict[int, dict[str, int]]:
        """The positions the next markers name: of every state partition (but those in
        `skip`) whose positions moved since its last marker or whose state `changed`."""
        by_partition: dict[int, dict[str, int]] = defaultdict(dict)
        for (topic, partition), offset in self.positions.items():
            if partition not in skip:  # never a marker in a newer release's log
                by_partition[partition][topic] = offset
        marks = {p: o for p, o in by_partition.items() if o != self.marked.get(p)}
        for partition in changed:
            marks.setdefault(partition, by_partition.get(partition)
                             or self.marked.get(partition, {}))
        return marks

    def marker(self, partition: int, positions: dict[str, int]) -> dict[str, Any]:
        """What a flush marker of `partition` records."""
        return {"offsets": positions, "forwarded": self.forwarded.get(partition, {})}

    def flushed(self, marks: dict[int, dict[str, int]]) -> None:
        """These markers are on the broker."""
        self.marked.update(marks)

    def committable(self, assignment: Iterable[TP], topics: frozenset[str],
                    skip: set[int]) -> dict[TP, int]:
        """Offsets to commit: those of the last markers that moved since our last commit."""
        offsets = {}
        for tp in assignment:
            if tp[0] in topics and tp[1] not in skip:
                offset = self.marked.get(tp[1], {}).get(tp[0])
                if offset is not None and offset != self.committed.get(tp):
                    offsets[tp] = offset
        return offsets

    def commit_done(self, offsets: Mapping[Any, int]) -> None:
        self.committed.update(offsets)

    def recovered(self, partition: int, marker: dict[str, Any]) -> None:
        """A partition's state came back from the changelog: resume where its marker is."""
        self.marked[partition] = marker["offsets"]
        for topic, offset in marker["offsets"].items():
            self.positions[(topic, partition)] = offset
        self.forwarded[partition] = dict(marker["forwarded"])

    def drop(self, partitions: set[int]) -> None:
        """Forget revoked partitions: their next owner resumes from their last marker."""
        for tp in [tp for tp in self.positions if tp[1] in partitions]:
            del self.positions[tp]
            self.rewinds.pop(tp, None)
            self.undecodable.pop(tp, None)
        for partition in partitions:
            self.forwarded.pop(partition, None)
            self.marked.pop(partition, None)
        self.committed = {tp: o for tp, o in self.committed.items() if tp[1] not in partitions}

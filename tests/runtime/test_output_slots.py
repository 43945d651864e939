"""Output slots: processes sharing one store each write, and cut back, only their own files."""

from __future__ import annotations

from pathlib import Path

from harvester.output import OutputFiles
from harvester.runtime.lock import idle_slots, node_slot
from harvester.store import is_shared_state


def test_a_node_writes_under_its_own_folder_and_cuts_back_only_its_own_files(tmp_path: Path) -> None:
    a, b = OutputFiles(tmp_path, fsync=False, node="h-1"), OutputFiles(tmp_path, fsync=False, node="h-2")
    assert a.key("search") == "h-1/search" and OutputFiles(tmp_path).key("search") == "search"
    committed_a = a.append("search", b"page 1\n")
    a.append("search", b"uncommitted\n")
    committed_b = b.append("search", b"other page 1\n")
    b.append("search", b"other uncommitted\n")
    a.close()
    b.close()
    offsets = {"h-1/search": committed_a, "h-2/search": committed_b}
    cut = OutputFiles(tmp_path, node="h-1").prepare(offsets, {"search"})
    assert cut == {"search": len(b"uncommitted\n")}
    assert (tmp_path / "h-1" / "search.jsonl").read_bytes() == b"page 1\n"
    assert (tmp_path / "h-2" / "search.jsonl").read_bytes() == b"other page 1\nother uncommitted\n"


def test_slots_are_taken_in_order_and_idle_ones_are_found(tmp_path: Path) -> None:
    first, lock1 = node_slot(tmp_path)
    second, lock2 = node_slot(tmp_path)
    assert first.endswith("-1") and second.endswith("-2")
    assert idle_slots(tmp_path) == []  # both held by live owners
    lock2.release()  # the second process dies
    found = idle_slots(tmp_path)
    assert [name for name, _ in found] == [second]
    for _, lock in found:
        lock.release()
    again, lock3 = node_slot(tmp_path)
    assert again == second  # a restarted process takes the free slot back
    lock1.release()
    lock3.release()
    assert is_shared_state("postgresql://h/db") and not is_shared_state(str(tmp_path / "state.db"))

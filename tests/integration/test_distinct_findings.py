"""Distinct bugs are distinct findings, one bug on many lock instances is one finding
(scenarios/programs: abandoned_sites, many_cycles, per_object_locks; docs/findings.md,
"One finding per bug"). A lock's class is where it was first taken, not its address:
abandoned locks taken at two sites are two findings, at one site twice one finding seen
twice; ten inversions taken through one helper are ten findings (the call one frame up
tells them apart); one inversion on twenty per-object locks is one finding listing its
instances; one thread taking both orders is a finding worded as one thread's."""

import pytest

import gilwatch_testlib as lib


def run_program(out_dir, name, mode):
    path = lib.program_path(name)
    assert path.is_file(), "%s is not built" % path
    return lib.run_gilwatch(out_dir, [path, mode])


def test_locks_abandoned_at_two_sites_are_two_findings(out_dir):
    run = run_program(out_dir, "abandoned_sites", "two-sites")
    assert run.completed.stdout == "abandoned_sites (two-sites): stats lock abandoned, journal lock abandoned\n"
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()
    assert run.kinds() == ["abandoned-lock", "abandoned-lock"], run.describe()
    sites = set()
    for finding in run.findings:
        assert finding["occurrences"] == 1, finding
        [lock] = finding["locks"]
        sites |= {lib.normalize_function(frame.get("function")) for frame in lock["first_site"]}
    assert {"take_stats_and_forget", "take_journal_and_forget"} <= sites, run.describe()
    assert len({finding["fingerprint"] for finding in run.findings}) == 2, run.describe()


def test_locks_abandoned_at_one_site_are_one_finding_seen_twice(out_dir):
    run = run_program(out_dir, "abandoned_sites", "same-site")
    assert run.completed.stdout == "abandoned_sites (same-site): slot 0 abandoned, slot 1 abandoned\n"
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()
    assert run.kinds() == ["abandoned-lock"], run.describe()
    [finding] = run.findings
    assert finding["occurrences"] == 2, finding
    [lock] = finding["locks"]
    assert "take_slot_and_forget" in {lib.normalize_function(f.get("function")) for f in lock["first_site"]}, lock
    assert "2 times" in run.completed.stderr, run.describe()


def test_ten_inversions_through_one_helper_are_ten_findings(out_dir):
    run = run_program(out_dir, "many_cycles", "inverted")
    assert run.completed.stdout == "many_cycles (inverted): done\n", run.describe()
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()
    assert run.kinds() == [lib.LOCK_ORDER_INVERSION] * 10, run.describe()
    pairs = set()
    for finding in run.findings:
        assert len(finding["locks"]) == 2, finding
        # Each edge says which thread took it: forward took one order, backward the other.
        names = sorted(thread["name"] for thread in finding["threads"])
        assert names == ["backward", "forward"], lib.roles(finding)
        assert finding["taken_by"].startswith("taken by different threads: "), finding["taken_by"]
        callers = set()
        for thread in finding["threads"]:
            functions = [lib.normalize_function(f.get("function")) for f in thread["native_frames"]]
            assert functions[0] == "lock_pair", functions
            callers.add(functions[1])
        indexes = {caller.rsplit("_", 1)[-1] for caller in callers}
        assert len(indexes) == 1, callers
        index = indexes.pop()
        assert callers == {"forward_" + index, "backward_" + index}, callers
        pairs.add(frozenset(lock["address"] for lock in finding["locks"]))
    assert len(pairs) == 10, run.describe()
    assert len({finding["fingerprint"] for finding in run.findings}) == 10, run.describe()


def test_pairs_taken_in_one_order_through_the_helper_are_clean(out_dir):
    run = run_program(out_dir, "many_cycles", "consistent")
    lib.assert_clean(run)
    assert run.completed.stdout == "many_cycles (consistent): done\n", run.describe()


def test_one_thread_taking_both_orders_is_a_finding_worded_as_one_thread(out_dir):
    run = run_program(out_dir, "many_cycles", "one-thread")
    finding = lib.assert_single_inversion(run, lock_count=2, lock_kinds=["mutex", "mutex"])
    threads = finding["threads"]
    assert len(threads) == 2 and len({t["tid"] for t in threads}) == 1, lib.roles(finding)
    tid = threads[0]["tid"]
    assert finding["taken_by"].startswith("one thread took both orders: thread %d (both-orders) took mutex " % tid), \
        finding["taken_by"]
    assert ", and later mutex " in finding["taken_by"], finding["taken_by"]
    assert "one thread took both orders" in run.completed.stderr, run.describe()


def test_one_inversion_on_twenty_per_object_locks_is_one_finding_listing_them(out_dir):
    run = run_program(out_dir, "per_object_locks", "inverted")
    assert run.completed.stdout == "per_object_locks (inverted): 20 objects done\n", run.describe()
    finding = lib.assert_single_inversion(run, lock_count=2, lock_kinds=["mutex", "mutex"])
    assert finding["occurrences"] == 20, finding["occurrences"]
    instances = finding["instances"]
    assert len(instances) == 20 and finding["instances_not_listed"] == 0, instances
    # One lock is the registry lock in every instance, the other a different object's.
    shared = set.intersection(*(set(i["addresses"]) for i in instances))
    assert len(shared) == 1, instances
    objects = {a for i in instances for a in i["addresses"]} - shared
    assert len(objects) == 20, instances
    assert finding["taken_by"].startswith("taken by different threads: "), finding["taken_by"]
    assert "on 20 lock instances: " in run.completed.stderr, run.describe()


def test_per_object_locks_in_one_order_are_clean(out_dir):
    run = run_program(out_dir, "per_object_locks", "consistent")
    lib.assert_clean(run)
    assert run.completed.stdout == "per_object_locks (consistent): 20 objects done\n", run.describe()

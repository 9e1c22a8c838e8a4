"""The benchmark's arithmetic and tables (make bench itself runs for an hour and is never run here)."""
from __future__ import annotations

import json
import os

import bench
from helpers import PROJECT, run_script

RESULTS = PROJECT / "bench" / "results.json"


def test_the_tables_show_the_measured_ratios_of_every_dataset():
    results = json.loads(RESULTS.read_text())
    shown = run_script("bench.py", "--show", "--results", RESULTS)
    assert shown.returncode == 0, shown.stderr
    build_table = shown.stdout.split("\n\n")[0].splitlines()[2:]  # the first table, without its header
    rows = {line.split(" (")[0].lstrip("| "): line for line in build_table}
    assert list(rows) == list(results["datasets"])
    for name, result in results["datasets"].items():
        row = rows[name]
        assert f"| {result['build']['rows']:,} |" in row, name
        assert f"{result['vs_limit_cpu']:.2f} (wall {result['vs_limit']:.2f})" in row, name
        assert f"{bench._times(result['vs_usual_cpu'])} (wall {result['vs_usual']:.1f}x;" in row, name
        ceiling = 2 * result["build"]["seconds"] / result["build"]["num_proc_2_cpu_seconds"]
        assert f"ceiling {ceiling:.2f}x" in row, name
    for update in bench.standing_updates(results):
        assert f"Measured again with --update at {update['at']}: {', '.join(update['datasets'])}." in shown.stdout


def test_the_footer_names_for_each_row_only_the_update_it_comes_from():
    updates = [{"datasets": ["nmb_plus"], "at": "06:36", "builds_only": True},
               {"datasets": ["flickr30k_entities", "nmb_plus"], "at": "06:39"},
               {"datasets": ["movieqa", "nmb_plus"], "at": "07:14"}]
    assert bench.standing_updates({"updates": updates}) == [
        {"datasets": ["flickr30k_entities"], "at": "06:39"}, {"datasets": ["movieqa", "nmb_plus"], "at": "07:14"}]
    assert bench.standing_updates({}) == []


def test_goal_marks_and_the_num_proc_ceiling():
    assert bench._goal(0.81, 0.8) == "✓" and bench._goal(0.79, 0.8) == "✗"
    assert bench._goal(1.19, 1.2, higher_is_better=False) == "✓" and bench._goal(1.2, 1.2, False) == "✗"
    # a one-process build that kept 1.5 cores busy for 10 s, and used 16 s of CPU with two processes
    assert bench.speedup_ceiling({"build": {"seconds": 10.0, "num_proc_2_cpu_seconds": 16.0}}, cores=2) == 1.25
    assert bench.speedup_ceiling({"build": {"seconds": 10.0, "num_proc_2_cpu_seconds": 16.0}}, cores=1) == 0.625
    assert bench.net_rates(cpu=11.0, startup=1.0, units=1000, measure=2.0) == {"cpu_per_unit": 0.01,
                                                                               "cpu_per_size": 5.0}


def test_memory_is_judged_only_when_the_small_build_buffers_like_the_large_one():
    full = {"part_batches": 10, "largest_batch_bytes": 100}
    assert bench.fills_batches({"part_batches": 10, "largest_batch_bytes": 95}, full, several=5)
    assert bench.fills_batches({"part_batches": 5, "largest_batch_bytes": 100}, full, several=5)
    assert not bench.fills_batches({"part_batches": 4, "largest_batch_bytes": 100}, full, several=5)
    assert not bench.fills_batches({"part_batches": 10, "largest_batch_bytes": 80}, full, several=5)


def test_update_refuses_results_of_another_machine(tmp_path):
    other = json.loads(RESULTS.read_text())
    other["machine"] = {**other["machine"], "cores": other["machine"]["cores"] + 62}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(other))
    refused = run_script("bench.py", "--update", "--dataset", "movieqa", "--results", path,
                         "--workdir", tmp_path / "work", timeout=60)
    assert refused.returncode != 0
    assert "was measured on another machine or --size; run without it" in refused.stderr
    assert json.loads(path.read_text()) == other and not (tmp_path / "work").exists()


def test_a_ratio_just_under_its_goal_does_not_read_as_the_goal():
    results = json.loads(RESULTS.read_text())
    results["datasets"]["flickr30k_entities"]["vs_usual_cpu"] = 0.964
    row = next(line for line in bench.table(results).splitlines() if line.startswith("| flickr30k_entities"))
    assert "| 0.96x (wall " in row and "1.0x" not in row.split("(wall")[0]
    results["datasets"]["flickr30k_entities"]["vs_usual_cpu"] = 33.46
    row = next(line for line in bench.table(results).splitlines() if line.startswith("| flickr30k_entities"))
    assert "| 33.5x (wall " in row


def test_an_update_after_a_kernel_update_is_the_same_machine_and_says_so():
    """The platform string names the kernel's build: the same hardware and Python after a kernel update may
    add rows to a run's table, and the table names the platform they were measured on."""
    results = json.loads(RESULTS.read_text())
    machine = results["machine"]
    assert bench.hardware({**machine, "platform": "Linux-6.18.99-other"}) == bench.hardware(machine)
    assert bench.hardware({**machine, "cores": machine["cores"] + 62}) != bench.hardware(machine)
    assert bench.hardware({**machine, "python": "3.12.0"}) != bench.hardware(machine)
    results["updates"] = [{"datasets": ["movieqa"], "at": "2026-12-07 06:30 UTC", "platform": "Linux-6.18.99-other"}]
    assert ("Measured again with --update at 2026-12-07 06:30 UTC: movieqa. Platform then: Linux-6.18.99-other."
            in bench.table(results).splitlines())


def test_an_update_of_the_builds_alone_keeps_the_publish_and_load_measured_before():
    earlier = {"measured_at": "2026-12-06 19:30 UTC", "publish": {"mb_per_s": 204.0}, "load": {"scan_rows": 9}}
    builds = {"measured_at": "2026-12-06 19:47 UTC", "build": {"rows": 30_008}}
    kept = bench.updated_entry(builds, earlier)
    assert kept == {**builds, "publish": {"mb_per_s": 204.0}, "load": {"scan_rows": 9},
                    "publish_load_measured_at": "2026-12-06 19:30 UTC"}
    assert bench.updated_entry(builds, kept)["publish_load_measured_at"] == "2026-12-06 19:30 UTC"  # the first one
    measured = {**builds, "publish": {"mb_per_s": 250.0}, "load": {"scan_rows": 10}}
    assert bench.updated_entry(measured, kept) == measured  # measured again: nothing kept, no older time
    assert bench.updated_entry(builds, None) == builds == bench.updated_entry(builds, {"measured_at": "x"})

    results = json.loads(RESULTS.read_text())
    movieqa = results["datasets"]["movieqa"]
    measured_whole = {key: value for key, value in movieqa.items() if key != "publish_load_measured_at"}
    builds_only = {key: value for key, value in measured_whole.items() if key not in ("publish", "load")}
    published_at_19_30 = {**measured_whole, "measured_at": "2026-12-06 19:30 UTC"}
    results["datasets"]["movieqa"] = bench.updated_entry(builds_only, published_at_19_30)
    results["updates"] = [{"datasets": ["movieqa"], "at": "2026-12-06 19:47 UTC", "builds_only": True}]
    assert ("Measured again with --update at 2026-12-06 19:47 UTC: movieqa. Builds only; publish and load: "
            "movieqa's from 2026-12-06 19:30 UTC.") in bench.table(results)


def test_each_command_starts_with_the_disk_caught_up(monkeypatch, tmp_path):
    """The spawner syncs before a command runs, not after: what earlier commands wrote is not its cost."""
    import os
    import sys

    from bench import spawner

    ran = tmp_path / "ran"
    synced_before = []
    monkeypatch.setattr(spawner.os, "sync", lambda: synced_before.append(not ran.exists()))
    (tmp_path / "out" / "part").mkdir(parents=True)
    (tmp_path / "out" / "part" / "train-000.parquet").write_bytes(b"PAR1" * 1000)
    write = [sys.executable, "-c", f"open({str(ran)!r}, 'w').write('x')"]
    answer = spawner.run(write, dict(os.environ), str(tmp_path), [str(tmp_path / "out"), str(tmp_path / "gone")])
    assert answer["returncode"] == 0 and ran.read_text() == "x"
    assert synced_before == [True]
    assert (tmp_path / "out" / "part" / "train-000.parquet").read_bytes() == b"PAR1" * 1000  # dropped, not lost


def test_repeated_runs_give_the_least_times_and_the_largest_peak():
    runs = [bench.Run(10.0, 14.0, 300, "first"), bench.Run(9.0, 15.5, 320, "second"), bench.Run(11.0, 13.0, 310, "")]
    least = bench.least_of(runs)
    assert (least.seconds, least.cpu_seconds, least.peak_rss) == (9.0, 13.0, 320)
    assert least.cpu_runs == (14.0, 15.5, 13.0) and least.stdout == "first"
    once = bench.least_of(runs[:1])
    assert (once.seconds, once.cpu_seconds, once.peak_rss) == (10.0, 14.0, 300)


def test_the_footer_says_which_rows_are_the_least_of_repeated_runs():
    results = json.loads(RESULTS.read_text())
    for result in results["datasets"].values():
        result["repeat"] = 1
    assert "Repeated (" not in bench.table(results)
    results["datasets"]["nmb_plus"]["repeat"] = 3
    assert "; the least wall and CPU time of each, the largest peak RSS): nmb_plus 3 runs." in bench.table(results)


def test_repeat_must_be_at_least_one(tmp_path):
    refused = run_script("bench.py", "--repeat", "0", "--results", tmp_path / "r.json", "--workdir", tmp_path / "w",
                         timeout=60)
    assert refused.returncode != 0 and "--repeat must be 1 or more" in refused.stderr
    assert not (tmp_path / "w").exists()


def test_what_the_build_did_not_read_is_settled_unless_an_input_folder_holds_it(tmp_path):
    tree = tmp_path / "tree"
    report = {"inputs": [{"path": "a/audio/"}, {"path": "a/labels.csv"}],
              "unread": [{"path": "a/video/"}, {"path": "a/audio/features/"}, {"path": "b/"}, {"path": "e.md"}]}
    assert bench.unread_parts(tree, report) == [tree / "a" / "video", tree / "b", tree / "e.md"]
    assert bench.unread_parts(tree, {"inputs": [{"path": "a/"}], "unread": [{"path": "a/video/"}]}) == []


def test_settling_drops_single_files_too(tmp_path, monkeypatch):
    from bench import spawner

    dropped = []
    monkeypatch.setattr(spawner.os, "posix_fadvise", lambda fd, offset, length, advice: dropped.append(
        os.readlink(f"/proc/self/fd/{fd}")))
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "in.bin").write_bytes(b"x")
    (tmp_path / "alone.bin").write_bytes(b"y")
    spawner.settle([str(tmp_path / "folder"), str(tmp_path / "alone.bin"), str(tmp_path / "gone")])
    assert sorted(dropped) == [str(tmp_path / "alone.bin"), str(tmp_path / "folder" / "in.bin")]

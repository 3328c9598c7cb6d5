"""The harness's own guarantees that other tests rely on."""

from harness import PYTHON, Procs


def test_a_sanitizer_report_in_a_process_output_is_found(tmp_path):
    procs = Procs(tmp_path / "procs")
    procs.start("leaky", [PYTHON, "-c", "import sys; sys.stderr.write("
                "'==42==ERROR: LeakSanitizer: detected memory leaks\\n')"])
    procs.start("ub", [PYTHON, "-c", "print('src/x.cpp:3:5: runtime error: signed integer overflow')"])
    procs.start("clean", [PYTHON, "-c", "import sys; sys.stderr.write('all good\\n')"])
    for p in procs.procs:
        p.wait(10)
    procs.stop_all()
    assert sorted(name for name, _ in procs.sanitizer_reports()) == ["leaky", "ub"]
    assert "detected memory leaks" in dict(procs.sanitizer_reports())["leaky"]

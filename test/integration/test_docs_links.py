"""The repository explains itself: no pointer to a document outside it, and no broken link.

A newcomer who clones the repository reads docs/ and the code's comments; a reference to a
specification that is not in the repository, or a link to a heading that was renamed, leaves
them with nothing. The behaviour contract is docs/design.md; everything points there (or to
another doc) by path and heading anchor.
"""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve()

# Documents that lived outside the repository (the product specification, the test plan and
# the style guide handed to the first engineers). \b keeps AF_UNSPEC, SPECpower, POD_SPEC out.
OUTSIDE_DOCS = re.compile(r"\bSPEC\b|\bTESTING(?:\.md)?\s*(?:§|section)|\bSTYLE\.md\b")

LINK = re.compile(r"\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")  # images too
REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(?P<target>\S+)")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def repository_files():
    """Tracked and new (not ignored) files; build directories and .git are never listed."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
        names = [n for n in out.decode().split("\0") if n]
        return [ROOT / n for n in names if (ROOT / n).is_file()]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git"}
        return [p for p in ROOT.rglob("*") if p.is_file()
                and not any(part in skip or part.startswith("build")
                            for part in p.relative_to(ROOT).parts)]


def test_no_reference_to_documents_outside_the_repository():
    offenders = []
    for path in repository_files():
        if path.resolve() == THIS:
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue  # binary (fuzz corpora, images)
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if OUTSIDE_DOCS.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not offenders, (
        "references to documents that are not in the repository (point at docs/design.md "
        "or another doc instead):\n" + "\n".join(offenders))


def without_code(markdown):
    """The lines outside fenced code blocks, with inline code spans blanked (same length)."""
    lines, fence = [], None
    for line in markdown.splitlines():
        stripped = line.lstrip()
        m = re.match(r"(`{3,}|~{3,})", stripped)
        if m:
            if fence is None:
                fence = m.group(1)[0] * len(m.group(1))
            elif stripped.startswith(fence):
                fence = None
            lines.append("")
            continue
        lines.append("" if fence else re.sub(r"`[^`]*`", lambda c: " " * len(c.group()), line))
    return lines


def github_slug(heading):
    """GitHub's anchor for a heading: rendered text, lower case, punctuation dropped, spaces → -."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path):
    """Every anchor a markdown file offers: its headings' slugs (with GitHub's -1, -2 for
    repeats) and explicit <a name/id> anchors."""
    result, seen, fence = set(), {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.lstrip()
        m = re.match(r"(`{3,}|~{3,})", stripped)
        if m:
            if fence is None:
                fence = m.group(1)[0] * len(m.group(1))
            elif stripped.startswith(fence):
                fence = None
            continue
        if fence:
            continue
        result.update(HTML_ANCHOR.findall(line))
        h = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if h:
            slug = github_slug(h.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def markdown_files():
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


def broken_links(path):
    broken = []
    for number, line in enumerate(without_code(path.read_text(encoding="utf-8")), 1):
        targets = [m.group("target") for m in LINK.finditer(line)]
        ref = REF_DEF.match(line)
        if ref:
            targets.append(ref.group("target"))
        for target in targets:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # http:, https:, mailto:
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(ROOT)}:{number}: ({target})"
            if not dest.exists():
                broken.append(f"{where}: {file_part} does not exist")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{where}: no heading with anchor #{anchor} in "
                              f"{dest.relative_to(ROOT)}")
    return broken


def test_every_relative_link_in_the_docs_resolves_to_a_file_and_heading():
    broken = [b for path in markdown_files() for b in broken_links(path)]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_link_checker_knows_githubs_anchors():
    """The checker itself: GitHub's slugs for the kinds of headings the docs use."""
    assert github_slug("Pod classification") == "pod-classification"
    assert github_slug("`joulie operator`") == "joulie-operator"
    assert github_slug("`context_aware_v1`") == "context_aware_v1"
    assert github_slug("Context sources (Prometheus, inference models)") == \
        "context-sources-prometheus-inference-models"
    assert github_slug("6. Supply follows demand: first convergence and demand step") == \
        "6-supply-follows-demand-first-convergence-and-demand-step"
    assert github_slug("3c. Operator list page size (`--kube-list-page-size`), 15:25–15:46 UTC") \
        == "3c-operator-list-page-size---kube-list-page-size-15251546-utc"
    # A broken anchor and a missing file are found; links inside code are not links.
    design = ROOT / "docs" / "design.md"
    assert "pod-classification" in anchors(design)
    assert "no-such-heading" not in anchors(design)
    lines = without_code("see `[x](nowhere.md)` and\n```\n[y](nowhere.md)\n```")
    assert lines[0].startswith("see ") and lines[0].endswith(" and")
    assert not any(LINK.search(line) for line in lines)


def test_design_md_offers_the_anchors_the_code_points_at():
    """Comments and tests point at these sections by anchor; renaming a heading breaks them."""
    wanted = {
        "what-joulie-does", "command-line-and-exit-codes", "kubernetes-access",
        "watches-and-caches", "leader-election", "events", "api-objects", "nodepowerprofile",
        "canonical-names", "supported-kubernetes-versions", "telemetryprofile",
        "node-labels-and-annotations", "operator", "operator-configuration", "label-selectors",
        "eligible-nodes", "pod-classification", "policies", "state-machine-and-downgrade-guard",
        "writes-and-their-order", "events-on-nodes", "operator-observability",
        "one-shot-output", "agent", "agent-configuration", "what-the-agent-watches",
        "choosing-the-route", "rapl-backend", "dvfs-backend-and-controller",
        "http-simulator-contract", "fail-safe-restore", "agent-reporting-and-metrics",
        "deployment-artefacts", "quality-bars", "robustness", "context-and-signals",
        "the-policy-snapshot", "prometheus", "demand-forecast-model", "policy-file",
        "context-aware-policy", "upgrades-first", "evaluation",
    }
    missing = wanted - anchors(ROOT / "docs" / "design.md")
    assert not missing, f"docs/design.md lost the sections {sorted(missing)}"

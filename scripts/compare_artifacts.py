#!/usr/bin/env python3
"""Compare what two Strata binaries write for the same projects: compiled SQL, manifest.json
and run_results.json, with the fields that differ by run (times, ids, threads) blanked.

    scripts/with-duckdb python3 scripts/compare_artifacts.py OLD_BINARY NEW_BINARY

A refactoring that must not change behaviour (issue 13's module split) shows no
difference. The projects: the reference lakehouse at the repository root (`build`) and the
synthetic benchmark project (`../shared/bench/gen_project.py`, 1,000 models, `compile` and
`build`). Exit 0 when identical, 1 with a list of the differing files otherwise.
"""

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT.parent / "shared" / "bench" / "gen_project.py"
REFERENCE_PARTS = [".dbtignore", "project.yml", "models", "macros", "seeds", "tests", "data"]

# Keys whose values differ between two runs of the same binary.
VOLATILE = {"generated_at", "invocation_id", "elapsed_time", "execution_time", "thread_id",
            "started_at", "completed_at", "created_at"}


def blank(value):
    if isinstance(value, dict):
        return {k: ("<varies>" if k in VOLATILE else blank(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [blank(v) for v in value]
    return value


def copy_reference(dest: Path):
    dest.mkdir(parents=True)
    for part in REFERENCE_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("integration", "golden"))
        else:
            shutil.copy2(src, dest / part)


def run(binary: str, project: Path, args, log):
    env = dict(os.environ, NO_COLOR="1")
    r = subprocess.run([binary, *args, "--project-dir", str(project)], cwd=project, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log.write(f"$ strata {' '.join(args)} -> {r.returncode}\n{r.stdout}\n")
    return r.returncode


def snapshot(project: Path, out: Path):
    """Keep the artifacts of the last command, normalised."""
    target = project / "target"
    out.mkdir(parents=True, exist_ok=True)
    if (target / "compiled").is_dir():
        shutil.copytree(target / "compiled", out / "compiled", dirs_exist_ok=True)
    for name in ["manifest.json", "run_results.json"]:
        f = target / name
        if f.exists():
            data = blank(json.loads(f.read_text()))
            (out / name).write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")


def collect(binary: str, work: Path, models: int):
    """Run every scenario with `binary`; returns the folder of normalised artifacts."""
    out = work / "artifacts"
    work.mkdir(parents=True, exist_ok=True)
    log = open(work / "log.txt", "w")
    ref = work / "reference"
    copy_reference(ref)
    codes = {}
    codes["reference build"] = run(binary, ref, ["build"], log)
    snapshot(ref, out / "reference-build")
    bench = work / "bench"
    subprocess.run([sys.executable, str(GEN), "--models", str(models), "--out", str(bench)],
                   check=True, stdout=subprocess.DEVNULL)
    codes["bench compile"] = run(binary, bench, ["compile"], log)
    snapshot(bench, out / "bench-compile")
    codes["bench build"] = run(binary, bench, ["build"], log)
    snapshot(bench, out / "bench-build")
    (out / "exit-codes.json").write_text(json.dumps(codes, indent=1) + "\n")
    return out


def differences(a: Path, b: Path):
    diff = []
    def walk(cmp: filecmp.dircmp, rel: str):
        diff.extend(f"{rel}{n} (only in old)" for n in cmp.left_only)
        diff.extend(f"{rel}{n} (only in new)" for n in cmp.right_only)
        # dircmp's shallow comparison looks at sizes and times: compare bytes.
        for n in cmp.common_files:
            if (Path(cmp.left) / n).read_bytes() != (Path(cmp.right) / n).read_bytes():
                diff.append(f"{rel}{n}")
        for n, sub in cmp.subdirs.items():
            walk(sub, f"{rel}{n}/")
    walk(filecmp.dircmp(a, b), "")
    return diff


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--models", type=int, default=1000, help="size of the benchmark project")
    p.add_argument("--keep", help="keep the work folders here")
    args = p.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="strata-compare-"))
    old = collect(str(Path(args.old).resolve()), work / "old", args.models)
    new = collect(str(Path(args.new).resolve()), work / "new", args.models)
    diff = differences(old, new)
    files = sum(1 for _ in old.rglob("*") if _.is_file())
    codes = (old / "exit-codes.json").read_text().strip()
    if diff:
        print(f"{len(diff)} of {files} files differ (work folder {work}):")
        for d in diff:
            print(f"  {d}")
        return 1
    print(f"identical: {files} files (compiled SQL, manifest.json, run_results.json); exit codes {codes}")
    if not args.keep:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())

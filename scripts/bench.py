#!/usr/bin/env python3
"""Strata benchmarks: compile and build on synthetic projects, side by side with dbt-core.

Run through scripts/bench.sh (it builds the release binary first). Prints medians of
several runs after a warm-up, peak memory (max RSS of the measured process), and, with
--compare-dbt VENV, dbt-core + dbt-duckdb on the same projects in the same run, and the
ratios. Figures are printed, never asserted: BENCHMARKS.md records them.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN = os.path.join(ROOT, "..", "shared", "bench", "gen_project.py")


def run(cmd, cwd, env=None, ok_codes=(0,)):
    """Wall seconds, peak RSS in MB, stdout+stderr text of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    text = out.decode("utf-8", "replace")
    if code not in ok_codes:
        sys.exit(f"{' '.join(cmd)} failed in {cwd} (exit {code}):\n{text[-3000:]}")
    return wall, usage.ru_maxrss / 1024.0, text


def measure(cmd, cwd, runs, before=None, env=None, ok_codes=(0,)):
    """Warm-up once, then `runs` runs; medians of wall time and peak memory."""
    if before:
        before()
    run(cmd, cwd, env, ok_codes)
    walls, mems, last = [], [], ""
    for _ in range(runs):
        if before:
            before()
        w, m, last = run(cmd, cwd, env, ok_codes)
        walls.append(w)
        mems.append(m)
    return statistics.median(walls), statistics.median(mems), last


def project(cache, n):
    out = os.path.join(cache, f"synthetic_{n}")
    if not os.path.exists(os.path.join(out, "project.yml")):
        subprocess.run([sys.executable, GEN, "--models", str(n), "--out", out], check=True,
                       stdout=subprocess.DEVNULL)
    return out


def fresh_db(path):
    def clean():
        for name in ("warehouse.duckdb", "warehouse.duckdb.wal"):
            p = os.path.join(path, name)
            if os.path.exists(p):
                os.remove(p)
        shutil.rmtree(os.path.join(path, "target"), ignore_errors=True)
    return clean


def row(label, value, unit, target=None):
    t = f"   (target: {target})" if target else ""
    print(f"  {label:<44} {value:>10.3f} {unit}{t}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strata", default=os.path.join(ROOT, "target", "release", "strata"))
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/strata/bench"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sections", default="compile,build,reuse,docs,packages,incremental,rights",
                    help="which measurements to run")
    ap.add_argument("--incremental-days", type=int, default=45,
                    help="landing days of the incremental benchmark's full build")
    ap.add_argument("--incremental-events-per-day", type=int, default=110_000,
                    help="chat events per day (each brings ~1.2 reasoning steps): 45 x 110k ~ 10M lines")
    ap.add_argument("--models", default="1000,3000,10000", help="compile sizes")
    ap.add_argument("--build-models", type=int, default=1000)
    ap.add_argument("--compare-dbt", metavar="VENV", help="a virtualenv with dbt-core and dbt-duckdb")
    ap.add_argument("--rights-brokers", help="a Kafka broker for the rights benchmark (bench.sh starts one)")
    ap.add_argument("--rights-rows", type=int, default=1_000_000)
    ap.add_argument("--baseline", metavar="BINARY",
                    help="another strata binary: section 'ab' times both, alternating, each on its own copy")
    ap.add_argument("--dbt-utils", metavar="DIR",
                    help="a dbt_utils checkout: section 'packages' installs it in the compile "
                         "project (else tests/fixtures/packages/acme_utils)")
    ap.add_argument("--dbt-max-models", type=int, default=1000,
                    help="compare with dbt up to this size (dbt takes minutes beyond)")
    args = ap.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    strata = os.path.abspath(args.strata)
    dbt = os.path.join(args.compare_dbt, "bin", "dbt") if args.compare_dbt else None
    env = dict(os.environ, STRATA_PROFILE="1", NO_COLOR="1")
    dbt_env = dict(os.environ, DBT_PROFILES_DIR=".", DBT_SEND_ANONYMOUS_USAGE_STATS="false")

    print(f"strata: {strata}")
    print(f"machine: {os.cpu_count()} cores; {args.runs} runs after a warm-up, medians\n")

    sections = set(args.sections.split(","))
    if "compile" in sections:
        bench_compile(args, strata, dbt, env, dbt_env)
    if "build" in sections:
        bench_build(args, strata, dbt, env, dbt_env)
    if "reuse" in sections:
        bench_reuse(args, strata, dbt, env, dbt_env)
    if "docs" in sections:
        bench_docs(args, strata, dbt, env, dbt_env)
    if "ab" in sections and args.baseline:
        bench_ab(args, strata, os.path.abspath(args.baseline), env)
    if "packages" in sections:
        bench_packages(args, strata, env)
    if "incremental" in sections:
        bench_incremental(args, strata, env)
    if "rights" in sections and args.rights_brokers:
        bench_rights(strata, args.cache, args.rights_brokers, args.rights_rows,
                     [(1, 100), (50, 1000), (500, 5000)])


def bench_compile(args, strata, dbt, env, dbt_env):
    print("1. compile")
    for n in [int(x) for x in args.models.split(",")]:
        path = project(args.cache, n)
        wall, mem, _ = measure([strata, "compile"], path, args.runs, env=env)
        row(f"strata compile, {n} models", wall, "s", "< 1 s" if n == 10000 else None)
        row(f"  peak memory", mem, "MB", "< 300 MB")
        # What a first run (or one after `strata clean`) costs: nothing remembered.
        cwall, cmem, _ = measure([strata, "compile", "--no-partial-parse"], path, args.runs, env=env)
        row(f"strata compile --no-partial-parse, {n} models", cwall, "s")
        row(f"  peak memory", cmem, "MB")
        if dbt and n <= args.dbt_max_models:
            dwall, dmem, _ = measure([dbt, "compile"], path, max(1, args.runs // 2), env=dbt_env)
            row(f"dbt compile, {n} models", dwall, "s")
            row(f"  ratio dbt / strata", dwall / wall, "x", ">= 100 x" if n == 1000 else None)



def bench_build(args, strata, dbt, env, dbt_env):
    print("\n2. build")
    n = args.build_models
    path = project(args.cache, n)
    wall, mem, _ = measure([strata, "build"], path, args.runs, before=fresh_db(path), env=env)
    row(f"strata build, {n} models (threads from profile)", wall, "s")
    row(f"  peak memory", mem, "MB")
    w1, _, text = measure([strata, "build", "--threads", "1"], path, 1, before=fresh_db(path), env=env)
    m = re.search(r"engine time: ([0-9.]+) ms of ([0-9.]+) ms \((\d+) nodes\)", text)
    if m:
        engine, total, nodes = float(m.group(1)), float(m.group(2)), int(m.group(3))
        row(f"strata build --threads 1", w1, "s")
        row(f"  time inside DuckDB statements", engine / 1000.0, "s")
        row(f"  runner overhead per node", (total - engine) / nodes, "ms", "< 2 ms")
    if dbt and n <= args.dbt_max_models:
        dwall, _, _ = measure([dbt, "build"], path, 1, before=fresh_db(path), env=dbt_env)
        row(f"dbt build, {n} models", dwall, "s")
        row(f"  ratio dbt / strata", dwall / wall, "x", ">= 20 x")


def summary_count(text, name):
    m = re.search(rf"{name}=(\d+)", text)
    return int(m.group(1)) if m else -1


def bench_reuse(args, strata, dbt, env, dbt_env):
    """State-aware builds: a second build with nothing changed, and one after a seed row
    changed, on a copy of the build project (dbt-core has no reuse: its second build is a
    full one)."""
    print("\n3. reuse (state-aware builds)")
    n = args.build_models
    src = project(args.cache, n)
    path = os.path.join(args.cache, f"reuse_{n}")
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(src, path, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*"))
    fresh_db(path)()
    first, _, _ = run([strata, "build"], path, env)
    run([strata, "build"], path, env)  # incremental models compile their incremental SQL
    walls, text = [], ""
    for _ in range(max(args.runs, 1)):
        wall, _, text = run([strata, "build"], path, env)
        walls.append(wall)
    again = statistics.median(walls)
    row(f"strata build, {n} models, first", first, "s")
    row(f"strata build again, nothing changed", again, "s")
    print(f"  reused {summary_count(text, 'REUSED')} of the seeds, models and data tests")
    seed = os.path.join(path, "seeds", "raw_reasoning_steps.csv")
    with open(seed) as f:
        lines = f.readlines()
    # One row changes: the last row's `tokens` (its fifth field) grows by one.
    fields = lines[-1].rstrip("\n").split(",")
    fields[4] = str(int(fields[4]) + 1)
    lines[-1] = ",".join(fields) + "\n"
    with open(seed, "w") as f:
        f.writelines(lines)
    wall, _, text = run([strata, "build"], path, env, ok_codes=(0, 1))
    built = summary_count(text, "TOTAL") - summary_count(text, "REUSED")
    row("strata build after one more seed row", wall, "s")
    print(f"  reused {summary_count(text, 'REUSED')}; ran {built} nodes (the seed, its descendants and their tests)")
    if dbt and n <= args.dbt_max_models:
        fresh_db(path)()
        run([dbt, "build"], path, dbt_env, ok_codes=(0, 1))
        dwall, _, _ = run([dbt, "build"], path, dbt_env, ok_codes=(0, 1))
        row(f"dbt build again, nothing changed", dwall, "s")
        row(f"  ratio dbt / strata (second builds)", dwall / again, "x", ">= 20 x")


def tree_size(*paths):
    files, size = 0, 0
    for p in paths:
        if os.path.isfile(p):
            files, size = files + 1, size + os.path.getsize(p)
        for root, _, names in os.walk(p):
            for name in names:
                files, size = files + 1, size + os.path.getsize(os.path.join(root, name))
    return files, size


def bench_docs(args, strata, dbt, env, dbt_env):
    """`docs generate` on the build project (1,000 models, built: the catalog has every
    table) and on 10,000 models (compiled only), against `dbt docs generate` on the same
    database; the site's size; and, with STRATA_TEST_NODE_PATH set (scripts/chromium.sh),
    the time from opening one node's page in headless Chromium until its lineage is drawn."""
    print("\n4. docs")
    sizes = sorted({args.build_models, max(int(x) for x in args.models.split(","))})
    driver = os.path.join(ROOT, "tests", "integration", "docs_site.cjs")
    for n in sizes:
        src = project(args.cache, n)
        path = os.path.join(args.cache, f"docs_{n}")
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(src, path, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*"))
        built = n <= args.build_models
        if built:
            run([strata, "build"], path, env, ok_codes=(0, 1))
        wall, mem, _ = measure([strata, "docs", "generate"], path, args.runs, env=env)
        target = os.path.join(path, "target")
        files, size = tree_size(os.path.join(target, "index.html"), os.path.join(target, "docs"))
        index = os.path.getsize(os.path.join(target, "docs", "index.js"))
        what = "built" if built else "not built: empty catalog"
        row(f"strata docs generate, {n} models ({what})", wall, "s")
        print(f"  site: {files} files, {size / 1e6:.1f} MB (index.js {index / 1e6:.2f} MB), peak {mem:.0f} MB")
        if os.environ.get("STRATA_TEST_NODE_PATH"):
            with open(os.path.join(target, "docs", "index.js")) as f:
                names = re.findall(r'"id":"(model\.[^"]+)"', f.read())
            node = sorted(names)[len(names) // 2]
            spec = {"url": "file://" + os.path.join(target, "index.html"), "hash": "#!/node/" + node}
            times = []
            for _ in range(max(args.runs, 1)):
                out = subprocess.run(["node", driver, json.dumps(spec)], capture_output=True, text=True)
                seen = json.loads(out.stdout)
                if seen["errors"]:
                    sys.exit(f"docs page errors: {seen['errors']}")
                times.append(seen["ms"])
            row(f"  one node's lineage drawn in Chromium", statistics.median(times) / 1000, "s")
        if dbt and n <= args.dbt_max_models:
            dwall, dmem, _ = measure([dbt, "docs", "generate"], path, 1, env=dbt_env)
            dfiles, dsize = tree_size(os.path.join(target, "index.html"), os.path.join(target, "catalog.json"),
                                      os.path.join(target, "manifest.json"))
            row(f"dbt docs generate, {n} models", dwall, "s")
            print(f"  dbt's site: index.html {os.path.getsize(os.path.join(target, 'index.html')) / 1e6:.1f} MB, "
                  f"reads manifest.json + catalog.json ({dsize / 1e6:.1f} MB in all), peak {dmem:.0f} MB")
            row(f"  ratio dbt / strata", dwall / wall, "x")


def bench_packages(args, strata, env):
    """What packages cost: `strata deps` before a warm build of a project with three
    packages, and compile of the compile benchmark's project with a utility package
    installed against without."""
    print("\n3. packages")
    fixtures = os.path.join(ROOT, "tests", "fixtures", "packages")
    work = os.path.join(args.cache, "packages")
    shutil.rmtree(work, ignore_errors=True)
    for name in ("acme_utils", "acme_dates", "shop"):
        shutil.copytree(os.path.join(fixtures, name), os.path.join(work, name))
    # A third package, so the project has three (acme_utils, acme_dates, extra_pkg).
    extra = os.path.join(work, "extra_pkg")
    os.makedirs(os.path.join(extra, "macros"))
    with open(os.path.join(extra, "dbt_project.yml"), "w") as f:
        f.write("name: extra_pkg\n")
    with open(os.path.join(extra, "macros", "m.sql"), "w") as f:
        f.write("{% macro answer() %}42{% endmacro %}\n")
    shop = os.path.join(work, "shop")
    with open(os.path.join(shop, "packages.yml"), "a") as f:
        f.write("  - local: ../extra_pkg\n")
    run([strata, "deps"], shop, env)
    run([strata, "build"], shop, env | {"STRATA_PROFILE": ""}, ok_codes=(0, 1))
    deps, _, _ = measure([strata, "deps"], shop, args.runs, env=env)
    build, _, _ = measure([strata, "build"], shop, args.runs, env=env, ok_codes=(0, 1))
    row("strata deps, 3 local packages (lock kept)", deps, "s", "< 1 s")
    row("strata build after it, warm, 64 nodes", build, "s")

    n = int(args.models.split(",")[0])
    # Both copies alike (no database, no earlier target/), one with packages.
    plain = os.path.join(work, f"synthetic_{n}_plain")
    shutil.copytree(project(args.cache, n), plain,
                    ignore=shutil.ignore_patterns("target", "*.duckdb*"))
    # Beside acme_utils: its own `local: ../acme_dates` resolves from the root project, as
    # in dbt.
    with_pkg = os.path.join(work, f"synthetic_{n}")
    shutil.rmtree(with_pkg, ignore_errors=True)
    shutil.copytree(plain, with_pkg)
    utils = os.path.abspath(args.dbt_utils) if args.dbt_utils else "../acme_utils"
    with open(os.path.join(with_pkg, "packages.yml"), "w") as f:
        f.write(f"packages:\n  - local: {utils}\n")
    run([strata, "deps"], with_pkg, env)
    base, _, _ = measure([strata, "compile"], plain, args.runs, env=env)
    pkg, _, _ = measure([strata, "compile"], with_pkg, args.runs, env=env)
    which = "dbt_utils" if args.dbt_utils else "acme_utils + acme_dates"
    row(f"strata compile, {n} models", base, "s")
    row(f"  with {which} installed", pkg, "s")
    row("  ratio", pkg / base, "x", "<= 1.10 x")


def bench_ab(args, strata, baseline, env):
    """This binary against `baseline` on the same machine in the same minutes: runs
    alternate (which goes first alternates too), each binary on its own copy of the project
    so each keeps its own partial-parse memo and database, as a user's project would."""
    print("\nA/B. this binary (new) against --baseline (old), alternating runs")
    sizes = [int(x) for x in args.models.split(",")]
    n_build = args.build_models
    for n in sorted(set(sizes + [n_build])):
        src = project(args.cache, n)
        copies = {}
        for name, binary in (("new", strata), ("old", baseline)):
            dest = os.path.join(args.cache, f"ab_{name}_{n}")
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(src, dest, ignore=shutil.ignore_patterns("target", "*.duckdb", "*.wal"))
            # At the build size, compile reads a built database, as `strata compile` on a
            # real project does (the larger projects compile without one, as in section 1).
            if n == n_build:
                run([binary, "build"], dest, env)
            copies[name] = (binary, dest)
        measurements = [("compile", ["compile"], None)] if n in sizes else []
        if n == n_build:
            measurements.append(("build", ["build"], fresh_db))
        for label, argv, before in measurements:
            walls = {"new": [], "old": []}
            for name in ("new", "old"):  # warm-up
                binary, dest = copies[name]
                if before:
                    before(dest)()
                run([binary, *argv], dest, env)
            for i in range(args.runs):
                order = ("new", "old") if i % 2 == 0 else ("old", "new")
                for name in order:
                    binary, dest = copies[name]
                    if before:
                        before(dest)()
                    w, _, _ = run([binary, *argv], dest, env)
                    walls[name].append(w)
            new, old = statistics.median(walls["new"]), statistics.median(walls["old"])
            row(f"{label}, {n} models: new", new, "s")
            row(f"{label}, {n} models: old", old, "s")
            row(f"  new / old", new / old, "x")
            print(f"    runs new: {', '.join(f'{w:.3f}' for w in walls['new'])}; "
                  f"old: {', '.join(f'{w:.3f}' for w in walls['old'])}")


def bench_incremental(args, strata, env):
    """The reference project on ~10M landing events: a full `run`, then one more day and an
    incremental `run`, which should cost at most 10% of the full one."""
    print("\n4. incremental (reference project)")
    days, per_day = args.incremental_days, args.incremental_events_per_day
    data = os.path.join(args.cache, f"landing_{days + 1}d_{per_day}")
    if not os.path.exists(os.path.join(data, ".ok")):
        shutil.rmtree(data, ignore_errors=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_landing.py"), "--out", data,
                        "--days", str(days + 1), "--events-per-day", str(per_day),
                        "--users", str(max(200, per_day // 5))], check=True, stdout=subprocess.DEVNULL)
        open(os.path.join(data, ".ok"), "w").close()
    lines = 0  # landing lines of the full build's days
    for table in ("chat_events", "reasoning_steps"):
        for day in sorted(os.listdir(os.path.join(data, table)))[:days]:
            for f in os.listdir(os.path.join(data, table, day)):
                with open(os.path.join(data, table, day, f), "rb") as fh:
                    lines += sum(1 for _ in fh)
    proj = os.path.join(args.cache, "reference_incremental")
    shutil.rmtree(proj, ignore_errors=True)
    os.makedirs(proj)
    shutil.copy(os.path.join(ROOT, "project.yml"), proj)
    for d in ("models", "macros", "seeds"):
        shutil.copytree(os.path.join(ROOT, d), os.path.join(proj, d))
    landing = os.path.join(proj, "landing")

    def link_days(n):
        """landing/<table>/ingest_date=... -> the first n generated days."""
        shutil.rmtree(landing, ignore_errors=True)
        for table in ("chat_events", "reasoning_steps"):
            os.makedirs(os.path.join(landing, table))
            for day in sorted(os.listdir(os.path.join(data, table)))[:n]:
                os.symlink(os.path.join(data, table, day), os.path.join(landing, table, day))

    db = os.path.join(proj, "target", "athena_analytics.duckdb")
    saved = db + ".after_full"

    def full_state():
        shutil.rmtree(os.path.join(proj, "target"), ignore_errors=True)
        link_days(days)
        run([strata, "seed"], proj, env)  # reference tables; not part of the timing

    cmd = [strata, "run", "--vars", "{landing_path: landing}"]
    full, full_mem, _ = measure(cmd, proj, max(1, args.runs - 1), before=full_state, env=env)
    shutil.copy(db, saved)

    def incremental_state():
        shutil.copy(saved, db)
        for extra in (db + ".wal",):
            if os.path.exists(extra):
                os.remove(extra)
        link_days(days + 1)

    inc, _, _ = measure(cmd, proj, args.runs, before=incremental_state, env=env)
    row(f"landing lines in the full build", lines / 1e6, "M")
    row(f"strata run, full ({days} days)", full, "s")
    row(f"  peak memory", full_mem, "MB")
    row(f"strata run, incremental (+1 day)", inc, "s")
    row(f"  incremental / full", 100.0 * inc / full, "%", "<= 10 %")


RIGHTS_PROJECT = {
    "project.yml": """name: rights_bench
models:
  rights_bench:
    +materialized: table
rights:
  session_timeout_ms: 2000
""",
    # 1M bronze rows over 100k users and 300k chats.
    "models/bronze_events.sql": """select 'u' || (i % 100000) as user_id, 'c' || (i % 300000) as chat_id,
       'message ' || i as msg, i as event_id
from range({rows}) t(i)
""",
    "models/user_daily.sql": "select user_id, count(*) as n from {{ ref('bronze_events') }} group by 1\n",
    "models/chat_daily.sql": "select chat_id, count(*) as n from {{ ref('bronze_events') }} group by 1\n",
    "models/rights/erasure.sql": "{{ config(materialized='procedure', right_types=['ERASURE', 'SA_WITHDRAW']) }}\n"
                                 "{{ rights_delete(rights.batch, rights.declared, rights.right_types) }}\n",
    "models/schema.yml": """version: 2
models:
  - name: bronze_events
    meta: {personal_data: {subject_key: user_id}}
  - name: user_daily
    meta: {personal_data: {subject_key: user_id}}
  - name: chat_daily
    meta:
      personal_data:
        subject_key: chat_id
        via: {relation: bronze_events, key: chat_id, subject_key: user_id}
""",
}


def bench_rights(strata, cache, brokers, rows, sizes):
    path = os.path.join(cache, f"rights_{rows}")
    for rel, text in RIGHTS_PROJECT.items():
        full = os.path.join(path, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text.replace("{rows}", str(rows)))
    print(f"\n5. rights: ERASURE through Kafka, {rows} bronze rows, 3 declared relations")
    for batch, n in sizes:
        fresh_db(path)()
        run([strata, "build"], path)
        tag = f"{batch}-{int(time.time() * 1000)}"
        req, res = f"bench-req-{tag}", f"bench-res-{tag}"
        lines = "\n".join(
            '{"request_id": "r%d", "guid": "u%d", "right_type": "ERASURE", "created_at": 0}' % (i, i * 7 % 100000)
            for i in range(n))
        subprocess.run([strata, "rights", "submit", "--brokers", brokers, "--request-topic", req],
                       cwd=path, input=lines.encode(), check=True, stdout=subprocess.DEVNULL)
        wall, _, text = run([strata, "rights", "consume", "--brokers", brokers, "--request-topic", req,
                             "--result-topic", res, "--group-id", f"g-{tag}", "--batch-size", str(batch),
                             "--batch-wait-ms", "200", "--idle-exit-seconds", "3"], path)
        batches = re.findall(r"batch \d+: (\d+) requests, (\d+) statements, .*? total ([0-9.]+) ms", text)
        answered = sum(int(b[0]) for b in batches)
        busy = sum(float(b[2]) for b in batches) / 1000.0
        full = [int(b[1]) for b in batches if int(b[0]) == batch]
        row(f"batch size {batch}: {answered} requests, processing", answered / busy * 3600, "req/h", ">= 100000")
        row(f"  end to end incl. joins and 3 s idle exit", answered / wall * 3600, "req/h")
        if full:
            row(f"  statements per full batch", statistics.median(full), "", "<= 2 x 3 + 2 = 8" if batch == 500 else None)


if __name__ == "__main__":
    main()

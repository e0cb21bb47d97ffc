#!/usr/bin/env python3
"""Deterministic analytics events for the events_warehouse example, as the design's ingestion
lands them: one JSON object per line, one file per day under
data/events/year=YYYY/month=MM/day=DD/events.jsonl.

    generate.py [--days 45] [--events-per-day 60] [--seed 11] [--first-day 2026-01-01] [--out data]

Each event has an id, a user, a type (page_view, signup, purchase), a project, a UTC
timestamp, `properties` (a string map: country, device, plan, and amount for purchases)
and `context` (ip and userAgent). Standard library only: the same arguments give
byte-identical files.
"""

import argparse
import json
import os
import random
from datetime import datetime, timedelta, timezone

TYPES = [("page_view", 0.7), ("signup", 0.1), ("purchase", 0.2)]
COUNTRIES = ["US", "DE", "IL", "BR"]
DEVICES = ["mobile", "desktop", "tablet"]
PLANS = ["free", "pro", "team"]
AGENTS = ["Mozilla/5.0 (iPhone) Safari/604.1", "Mozilla/5.0 (Windows NT 10.0) Chrome/131.0"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=45)
    ap.add_argument("--events-per-day", type=int, default=60)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--first-day", default="2026-01-01")
    ap.add_argument("--out", default="data")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    first = datetime.strptime(args.first_day, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    n = 0
    for d in range(args.days):
        day = first + timedelta(days=d)
        rows = []
        for _ in range(args.events_per_day):
            n += 1
            when = day + timedelta(seconds=rng.randrange(0, 86400))
            kind = rng.choices([t for t, _ in TYPES], [w for _, w in TYPES])[0]
            props = {"country": rng.choice(COUNTRIES), "device": rng.choice(DEVICES),
                     "plan": rng.choice(PLANS)}
            if kind == "purchase":
                props["amount"] = f"{rng.randrange(500, 20000) / 100:.2f}"
            rows.append((when, {
                "event_id": f"evt-{n:08d}",
                "user_id": f"user-{rng.randrange(1, 40):03d}",
                "event_type": kind,
                "project_id": rng.choice(["proj-a", "proj-b"]),
                "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "properties": props,
                "context": {"ip": f"10.0.{rng.randrange(0, 255)}.{rng.randrange(1, 255)}",
                            "userAgent": rng.choice(AGENTS)},
            }))
        rows.sort(key=lambda r: (r[0], r[1]["event_id"]))
        folder = os.path.join(args.out, "events", f"year={day:%Y}", f"month={day:%m}", f"day={day:%d}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "events.jsonl"), "w") as f:
            for _, e in rows:
                f.write(json.dumps(e, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

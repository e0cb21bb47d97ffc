#!/usr/bin/env python3
"""Deterministic chart-SDK events and user segments for the chart_funnel example, as the
design's pipeline lands them (Firehose's bronze layout, one JSON object per line):

  data/events/events_type=<type>/ingest_dt=YYYY-MM-DD/part-0.jsonl   page_view,
                                      chart_interaction, affiliate_click
  data/segments/as_of=YYYY-MM-DD/segments.jsonl   each user's segment memberships that day

    generate.py [--days 3] [--sessions-per-day 40] [--seed 5] [--out data]

Sessions view pages (some a comparison page), interact with charts, and some click an
affiliate link. Segment memberships change from day to day (users join and leave
segments), so an SCD2 history has several versions. Standard library only: the same
arguments give byte-identical files.
"""

import argparse
import json
import os
import random
from datetime import datetime, timedelta, timezone

SEGMENTS = ["deal_seeker", "power_user", "new_visitor", "b2b"]
PRODUCTS = ["notion", "airtable", "studio", "coda", "clickup"]
ACTIONS = ["toggle", "sort", "filter", "compare_expand", "compare_collapse"]
COUNTRIES = ["IL", "US", "DE", "FR"]
USERS = 30


def stamp(when):
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--sessions-per-day", type=int, default=40)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--first-day", default="2026-04-01")
    ap.add_argument("--out", default="data")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    first = datetime.strptime(args.first_day, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    members = {u: set(rng.sample(SEGMENTS, rng.randrange(0, 3))) for u in range(USERS)}
    n = 0
    for d in range(args.days):
        day = first + timedelta(days=d)
        # Memberships as of the day's start: a few users join or leave a segment.
        if d > 0:
            for u in rng.sample(range(USERS), USERS // 4):
                members[u] ^= {rng.choice(SEGMENTS)}
        seg_dir = os.path.join(args.out, "segments", f"as_of={day:%Y-%m-%d}")
        os.makedirs(seg_dir, exist_ok=True)
        with open(os.path.join(seg_dir, "segments.jsonl"), "w") as f:
            for u in range(USERS):
                for s in sorted(members[u]):
                    f.write(json.dumps({"user_id_hash": f"sha256:{u:04d}", "segment_key": s,
                                        "as_of_ts": f"{day:%Y-%m-%d}T00:00:00.000Z"}, sort_keys=True) + "\n")
        by_type = {"page_view": [], "chart_interaction": [], "affiliate_click": []}
        for s in range(args.sessions_per_day):
            u = rng.randrange(USERS)
            sid = f"sid_{d:02d}_{s:03d}"
            when = day + timedelta(minutes=rng.randrange(10, 22 * 60), milliseconds=rng.randrange(1000))
            variant = rng.choice(["A", "B"])
            common = lambda kind: {
                "schema_version": "1.1.0", "event_type": kind, "ts": stamp(when),
                "ingest_ts": int(when.timestamp() * 1000) + 150, "source": "web",
                "privacy": {"analytics": True, "ads": rng.random() < 0.5, "source_ip_anonymized": "10.0.0.0"},
                "user": {"user_id_hash": f"sha256:{u:04d}", "geo_country": rng.choice(COUNTRIES)},
                "session": {"session_id": sid, "utm": {"source": rng.choice(["ads", "seo", ""]), "campaign": "spring"}},
                "ctx": {"page_url": "", "referrer": "", "locale": "en-US", "user_agent": "Mozilla/5.0", "ab_variant": variant},
                "chart": None, "affiliate": None,
                "metadata": {"sdk_version": "0.2.3", "schema_hash": "sha256:deadbeef"},
            }
            pages = rng.randrange(1, 4)
            for p in range(pages):
                n += 1
                e = common("page_view")
                e["event_id"] = f"ev{n:07d}"
                e["ctx"]["page_url"] = rng.choice(["https://example.com/compare/crm", "https://example.com/blog/tools", "https://example.com/"])
                by_type["page_view"].append(e)
                when += timedelta(seconds=rng.randrange(5, 120))
            if rng.random() < 0.6:
                for _ in range(rng.randrange(1, 4)):
                    n += 1
                    e = common("chart_interaction")
                    e["event_id"] = f"ev{n:07d}"
                    e["ctx"]["page_url"] = "https://example.com/compare/crm"
                    e["chart"] = {"product_ids": rng.sample(PRODUCTS, 2), "action": rng.choice(ACTIONS),
                                  "control_id": "plan-price", "control_value": rng.choice(["asc", "desc", ""])}
                    by_type["chart_interaction"].append(e)
                    when += timedelta(seconds=rng.randrange(5, 60))
            if rng.random() < 0.3:
                n += 1
                e = common("affiliate_click")
                e["event_id"] = f"ev{n:07d}"
                e["affiliate"] = {"link_id": f"lnk-{rng.randrange(1, 9)}", "target": rng.choice(PRODUCTS),
                                  "payout_cents": rng.choice([150, 300, 1200])}
                by_type["affiliate_click"].append(e)
        for kind, events in by_type.items():
            folder = os.path.join(args.out, "events", f"events_type={kind}", f"ingest_dt={day:%Y-%m-%d}")
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "part-0.jsonl"), "w") as f:
                for e in events:
                    f.write(json.dumps(e, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

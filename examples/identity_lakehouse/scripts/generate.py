#!/usr/bin/env python3
"""Deterministic event envelopes for the identity_lakehouse example, as Firehose lands them:
one JSON object per line under data/events/dt=YYYY-MM-DD/hour=HH/events.jsonl.

    generate.py [--days 3] [--people 24] [--seed 3] [--out data]

Each envelope has `meta` (event, v, event_id, sent_at), `context` (user_id when logged in,
anon_id, session_id, device.ua_hash) and `payload`. People browse anonymously on one or two
devices (a session a day on each, most days), log in now and then (an event with both user_id and anon_id links them), start
checkouts, book legs (gmv) and request and get payouts. A few envelopes break the contract
(no meta.event): bronze quarantines them. Standard library only: the same arguments give
byte-identical files.
"""

import argparse
import json
import os
import random
from datetime import datetime, timedelta, timezone

COUNTRIES = ["IL", "US", "GB"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--people", type=int, default=24)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--first-day", default="2026-05-01")
    ap.add_argument("--out", default="data")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    first = datetime.strptime(args.first_day, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    people = []
    for p in range(args.people):
        devices = [f"ua{p:03d}{k}" for k in range(rng.choice([1, 1, 2]))]
        people.append({"user": f"usr{p:03d}", "anons": [f"anon{p:03d}{k}" for k in range(len(devices))],
                       "devices": devices, "country": rng.choice(COUNTRIES)})
    n = 0
    for d in range(args.days):
        day = first + timedelta(days=d)
        by_hour = {}
        for p, k in [(p, k) for p in people for k in range(len(p["devices"]))]:
            if rng.random() < 0.35:
                continue
            session = f"ses{d:02d}{p['user'][3:]}{k}"
            when = day + timedelta(minutes=rng.randrange(0, 23 * 60))
            logged_in = rng.random() < 0.6
            steps = ["page_view", "page_view"]
            if rng.random() < 0.5:
                steps.append("checkout_started")
                if rng.random() < 0.6:
                    steps.append("booking_created")
            if rng.random() < 0.2:
                steps += ["payout_requested"] + (["payout_paid"] if rng.random() < 0.5 else [])
            for i, event in enumerate(steps):
                n += 1
                when += timedelta(seconds=rng.randrange(10, 300))
                context = {"anon_id": p["anons"][k], "session_id": session,
                           "device": {"ua_hash": p["devices"][k]}}
                # The user is known once logged in (a page view after login links them).
                if logged_in and i > 0:
                    context["user_id"] = p["user"]
                payload = {}
                if event == "booking_created":
                    payload = {"booking_id": f"bk{n:06d}", "leg_id": f"leg{n:06d}",
                               "gmv_cents": rng.randrange(2000, 90000), "country": p["country"]}
                elif event in ("payout_requested", "payout_paid"):
                    payload = {"payout_id": f"po{d:02d}{p['user'][3:]}", "amount_cents": 5000 + 100 * int(p["user"][3:])}
                meta = {"event": event, "v": 1, "event_id": f"e{n:07d}",
                        "sent_at": when.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
                if rng.random() < 0.02:
                    del meta["event"]  # breaks the contract
                envelope = {"meta": meta, "context": context, "payload": payload}
                by_hour.setdefault(when.hour, []).append(envelope)
        for hour, rows in sorted(by_hour.items()):
            folder = os.path.join(args.out, "events", f"dt={day:%Y-%m-%d}", f"hour={hour:02d}")
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "events.jsonl"), "w") as f:
                for e in rows:
                    f.write(json.dumps(e, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Deterministic web events for the web_events example, as the design's ingestion lands them:
one JSON object per line in data/raw_events/ingest_date=YYYY-MM-DD/events.jsonl, in both
shapes (legacy {type, properties} and nested {eventData, metadata}).

    generate.py [--days 3] [--events-per-day 240] [--seed 7] [--out data]

Each arrival day also carries: late events of the day before (up to 10% of a day), events
re-sent from the day before (the same event id: a merge must keep one), bot traffic (a
crawler's user agent), and gaps of more than 30 minutes inside a visitor's activity (a new
session). Standard library only: the same arguments give byte-identical files.
"""

import argparse
import json
import os
import random
from datetime import datetime, timedelta, timezone

SPACES = [
    ("space-001", "Harbour Loft", "apartment", "Marina", "Tower A", "plan-a"),
    ("space-002", "Garden House", "house", "Greenfield", "Villa 2", "plan-b"),
    ("space-003", "City Office", "office", "Downtown", "Block 9", "plan-c"),
]
ROOMS = ["LIVING ROOM", "KITCHEN", "BEDROOM", "BATHROOM", "BALCONY"]
EVENTS = ["Room View Position", "Space Viewed", "Floorplan Opened", "Share Clicked"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "Mozilla/5.0 (Macintosh) Safari/605.1"]
BOTS = ["Googlebot/2.1 (+http://www.google.com/bot.html)", "AhrefsBot/7.0", "python-requests/2.31 crawler"]


def event(rng, n, when, visitor, bot):
    space = rng.choice(SPACES)
    room = rng.choice(ROOMS)
    agent = rng.choice(BOTS) if bot else rng.choice(AGENTS)
    props = {
        "spaceId": space[0], "spaceName": space[1], "spaceType": space[2],
        "community": space[3], "building": space[4], "floorplan": space[5],
        "roomId": f"{space[0]}-{ROOMS.index(room)}", "roomName": room,
        "url": f"https://example.com/viewer/{space[0]}",
    }
    if rng.random() < 0.7:
        props["coordinates"] = {"pitch": round(rng.uniform(-80, 80), 2),
                                "yaw": round(rng.uniform(-200, 200), 2),
                                "hfov": rng.choice([90, 110, 123])}
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    user = f"auth-{visitor}" if visitor % 3 == 0 else None
    if n % 2 == 0:
        # Nested: {_id, eventTimestamp, metadata, eventData}.
        data = {"type": "track", "event": rng.choice(EVENTS), "properties": props,
                "context": {"userAgent": agent}, "sessionId": f"sess-{visitor}"}
        if user:
            data["userId"] = user
        return {"_id": {"$oid": f"{n:024x}"}, "eventTimestamp": {"$date": stamp},
                "metadata": {"anonymousId": f"anon-{visitor}", "appId": "web-viewer"},
                "eventData": data}
    # Legacy: {type, anonymousId, properties}.
    legacy = {"messageId": f"{n:024x}", "type": "page", "timestamp": stamp,
              "anonymousId": f"anon-{visitor}", "sessionId": f"sess-{visitor}",
              "userAgent": agent, "properties": props}
    if user:
        legacy["userId"] = user
    return legacy


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--events-per-day", type=int, default=240)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--first-day", default="2026-03-01")
    ap.add_argument("--out", default="data")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    first = datetime.strptime(args.first_day, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    n = 0
    late, resent = [], []
    for d in range(args.days):
        day = first + timedelta(days=d)
        lines = late + resent
        late, resent = [], []
        visitors = max(4, args.events_per_day // 12)
        per_visitor = args.events_per_day // visitors
        for v in range(visitors):
            visitor = d * 1000 + v
            bot = v % 11 == 5
            # A visit in the day, with a pause of more than 30 minutes in the middle.
            when = day + timedelta(minutes=rng.randrange(0, 20 * 60))
            for k in range(per_visitor):
                gap = timedelta(minutes=rng.choice([31, 45, 90])) if k == per_visitor // 2 else timedelta(seconds=rng.randrange(5, 600))
                when = min(when + gap, day + timedelta(hours=23, minutes=59))
                n += 1
                e = event(rng, n, when, visitor, bot)
                if rng.random() < 0.08 and d + 1 < args.days:
                    late.append(e)  # lands with the next day
                    continue
                lines.append(e)
                if rng.random() < 0.03:
                    resent.append(e)  # sent again the next day
        folder = os.path.join(args.out, "raw_events", f"ingest_date={day:%Y-%m-%d}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "events.jsonl"), "w") as f:
            for e in lines:
                f.write(json.dumps(e, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

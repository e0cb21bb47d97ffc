#!/usr/bin/env python3
"""Deterministic generator of the Athena Analytics landing data (JSON lines).

Writes what the browser sends, partitioned by ARRIVAL day (the day the line
reached the landing zone, not the day the event happened):

    OUT/chat_events/ingest_date=YYYY-MM-DD/part-0000.jsonl
    OUT/reasoning_steps/ingest_date=YYYY-MM-DD/part-0000.jsonl

chat_events lines (one JSON object per line; absent keys mean "not sent"):
    event_id, event_type ('chat_started' | 'message' | 'setting_changed'),
    user_id (guid), chat_id (a chat is a "room": it belongs to one user and
    spans one or more days), created_at (ISO-8601 with 'Z' or a +09:00
    offset), message, tool_name (null/absent when the answer used no tool),
    setting_name / setting_value (setting_changed only), client {platform,
    app_version}.
reasoning_steps lines: event_id (the 'message' event the step belongs to),
    step_index (0-based), user_id, reasoning_step, step_details, created_at.

Realism knobs (fixed rates, all drawn from the per-day RNG):
  * tool calls follow a skewed distribution (web_search dominates);
  * late arrivals: ~3% of sessions and ~1% of single events of day D arrive in
    day D+1's files (their reasoning steps travel with them);
  * exact duplicates: ~0.8% of lines are sent twice, in the same file or in
    the next day's file;
  * malformed lines: ~0.4% extra lines that are invalid JSON, not an object,
    or an object missing/garbling a required field (event_id, user_id,
    created_at, step_index);
  * every arrival day has at least one malformed line and one line re-sent on
    the next day, per landing table, so any incremental step exercises both;
  * the landing contract's conformance lines (tests/fixtures/landing_contract/:
    CR and CRLF line ends, a BOM, bytes that are not UTF-8, lenient JSON, wrong
    kinds, odd timestamps and integers) arrive on the third day as a second file
    of each table, copied byte for byte.

Determinism: every arrival day is generated from an RNG derived from
(seed, date) plus state carried from earlier days only (users' open chats and
current settings). Hence `--days 31` writes exactly the same first 30 arrival
days as `--days 30`; day 31 adds day 31's events plus day 30's late ones.
Same arguments => byte-identical files. Python 3.11 standard library only.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import sys

TOOLS = [  # (tool_name, weight): a few tools dominate
    ("web_search", 420), ("summarize_page", 180), ("translate", 110),
    ("code_interpreter", 70), ("image_generation", 50), ("calculator", 40),
    ("weather", 35), ("calendar", 25), ("maps", 20), ("shopping_compare", 15),
    ("pdf_reader", 10), ("news_digest", 5),
]
SETTINGS = {  # setting_name -> possible values (JSON types as the browser sends them)
    "theme": ["light", "dark", "system"],
    "language": ["en", "ko", "ja", "de", "fr", "es"],
    "ai_model": ["fast", "balanced", "advanced"],
    "memory_enabled": [True, False],
    "notifications": ["all", "mentions", "off"],
    "font_size": [12, 14, 16, 18],
}
STEP_KINDS_TOOL = ["plan", "tool_select", "tool_call", "read_result", "answer"]
STEP_KINDS_PLAIN = ["plan", "answer"]
VERBS = ["summarize", "explain", "translate", "compare", "find", "fix", "plan", "check", "write", "list"]
OBJECTS = ["this page", "the article", "my code", "flight prices", "the weather tomorrow",
           "a recipe with tofu", "the meeting notes", "this error message", "the best laptop",
           "the news today", "a birthday message", "this PDF", "train times to Busan"]
KOREAN = ["이 페이지 요약해줘", "내일 날씨 어때?", "이 문장 번역해줘", "근처 맛집 추천해줘"]
PLATFORMS = [("android", 5), ("ios", 3), ("windows", 4), ("macos", 2), ("linux", 1)]
APP_VERSIONS = ["3.1.0", "3.1.2", "3.2.0", "3.2.1"]

LATE_SESSION_RATE = 0.03
LATE_EVENT_RATE = 0.01
DUP_RATE = 0.008
MALFORMED_RATE = 0.004
STEP_MALFORMED_RATE = 0.003


def rng_for(seed: int, *parts: object) -> random.Random:
    digest = hashlib.sha256("|".join([str(seed), *map(str, parts)]).encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def guid(r: random.Random) -> str:
    """A random version-4 UUID string (same text as uuid.UUID(int=..., version=4))."""
    h = f"{r.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def cumulative(weights):
    total, out = 0, []
    for w in weights:
        total += w
        out.append(total)
    return out


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(obj) -> str:
    return _ENCODER.encode(obj)


class World:
    """State shared by all days: the user population, open chats, settings."""

    def __init__(self, seed: int, users: int):
        r = rng_for(seed, "users")
        self.user_ids = [guid(r) for _ in range(users)]
        # Zipf-like activity: a few heavy users, a long tail.
        self.user_cum = cumulative([1.0 / (i + 1) ** 0.8 for i in range(users)])
        self.user_kst = [r.random() < 0.15 for _ in range(users)]  # sends +09:00 timestamps
        plat_cum = cumulative([w for _, w in PLATFORMS])
        self.user_client = [
            {"platform": r.choices([p for p, _ in PLATFORMS], cum_weights=plat_cum)[0],
             "app_version": r.choice(APP_VERSIONS)}
            for _ in range(users)
        ]
        self.last_chat: dict[int, str] = {}
        self.settings: dict[tuple[int, str], object] = {}
        self.tool_names = [t for t, _ in TOOLS]
        self.tool_cum = cumulative([w for _, w in TOOLS])


KST = dt.timedelta(hours=9)


def fmt_ts(t: dt.datetime, kst: bool) -> str:
    """ISO-8601 with milliseconds: UTC with 'Z', or Korean local time with '+09:00'."""
    if kst:
        return (t + KST).isoformat(timespec="milliseconds") + "+09:00"
    return t.isoformat(timespec="milliseconds") + "Z"


def malformed_chat(r: random.Random, obj: dict) -> str:
    kind = r.choice(["truncated", "no_event_id", "no_created_at", "bad_created_at",
                     "no_user_id", "not_object", "empty_event_id"])
    if kind == "truncated":
        text = dumps(obj)
        return text[: r.randrange(5, max(6, len(text) - 2))]
    if kind == "not_object":
        return r.choice(["null", "[]", '"ping"', dumps([obj.get("event_id"), obj.get("user_id")])])
    bad = dict(obj)
    if kind == "no_event_id":
        del bad["event_id"]
    elif kind == "empty_event_id":
        bad["event_id"] = ""
    elif kind == "no_created_at":
        del bad["created_at"]
    elif kind == "bad_created_at":
        bad["created_at"] = r.choice(["yesterday", "2026-13-45T25:61:00Z", "17/01/2026 10:00"])
    else:
        del bad["user_id"]
    return dumps(bad)


def malformed_step(r: random.Random, obj: dict) -> str:
    kind = r.choice(["truncated", "no_event_id", "no_created_at", "no_step_index"])
    if kind == "truncated":
        text = dumps(obj)
        return text[: r.randrange(5, max(6, len(text) - 2))]
    bad = dict(obj)
    del bad[{"no_event_id": "event_id", "no_created_at": "created_at",
             "no_step_index": "step_index"}[kind]]
    return dumps(bad)


def message_text(r: random.Random) -> str:
    if r.random() < 0.12:
        return r.choice(KOREAN)
    return f"{r.choice(['Please', 'Can you', 'Help me', 'Quickly'])} {r.choice(VERBS)} {r.choice(OBJECTS)}"


def gen_day(world: World, seed: int, day: dt.date, target_events: int):
    """Generate the events of one event-day.

    Returns (rng, on_time, late) where each of on_time/late is a pair of line
    lists (chat_lines, step_lines): on_time lines go to this day's files, late
    lines to the next day's files.
    """
    r = rng_for(seed, "day", day.isoformat())
    on_chat, on_steps, late_chat, late_steps = [], [], [], []
    midnight = dt.datetime(day.year, day.month, day.day)
    produced = 0
    on_time_events: list[tuple[dict, list[dict]]] = []
    malformed = [0, 0]        # chat, steps
    cross_day_dups = [0, 0]   # chat, steps
    while produced < target_events:
        u = r.choices(range(len(world.user_ids)), cum_weights=world.user_cum)[0]
        uid, kst, client = world.user_ids[u], world.user_kst[u], world.user_client[u]
        t = midnight + dt.timedelta(seconds=r.randrange(0, 86400 - 4 * 3600),
                                    milliseconds=r.randrange(1000))
        session_late = r.random() < LATE_SESSION_RATE
        events: list[tuple[dict, list[dict]]] = []  # (chat event, its reasoning steps)

        if r.random() < 0.06:  # settings change at session start
            for _ in range(1 + (r.random() < 0.3)):
                name = r.choice(list(SETTINGS))
                choices = [v for v in SETTINGS[name] if v != world.settings.get((u, name))]
                value = r.choice(choices)
                world.settings[(u, name)] = value
                events.append(({"event_id": guid(r), "event_type": "setting_changed", "user_id": uid,
                                "created_at": fmt_ts(t, kst), "setting_name": name,
                                "setting_value": value, "client": client}, []))
                t += dt.timedelta(seconds=r.randrange(1, 30), milliseconds=r.randrange(1000))

        if u in world.last_chat and r.random() < 0.35:
            chat_id = world.last_chat[u]
        else:
            chat_id = guid(r)
            world.last_chat[u] = chat_id
            events.append(({"event_id": guid(r), "event_type": "chat_started", "user_id": uid,
                            "chat_id": chat_id, "created_at": fmt_ts(t, kst), "client": client}, []))
        n_messages = 1
        while n_messages < 12 and r.random() < 0.7:
            n_messages += 1
        for _ in range(n_messages):
            t += dt.timedelta(seconds=r.randrange(5, 180), milliseconds=r.randrange(1000))
            tool = (r.choices(world.tool_names, cum_weights=world.tool_cum)[0]
                    if r.random() < 0.4 else None)
            ev = {"event_id": guid(r), "event_type": "message", "user_id": uid, "chat_id": chat_id,
                  "created_at": fmt_ts(t, kst), "message": message_text(r)}
            if tool is not None or r.random() < 0.5:
                ev["tool_name"] = tool
            ev["client"] = client
            steps = []
            if tool is not None or r.random() < 0.1:
                kinds = STEP_KINDS_TOOL if tool else STEP_KINDS_PLAIN
                st = t
                for i, kind in enumerate(kinds[: r.randint(2, len(kinds))]):
                    st += dt.timedelta(milliseconds=r.randrange(100, 2500))
                    steps.append({"event_id": ev["event_id"], "step_index": i, "user_id": uid,
                                  "reasoning_step": kind,
                                  "step_details": f"{tool or 'none'}: {r.choice(VERBS)} {r.choice(OBJECTS)}",
                                  "created_at": fmt_ts(st, kst)})
            events.append((ev, steps))

        for ev, steps in events:
            produced += 1
            late = session_late or r.random() < LATE_EVENT_RATE
            chat_out, step_out = (late_chat, late_steps) if late else (on_chat, on_steps)
            line = dumps(ev)
            chat_out.append(line)
            if not late:
                on_time_events.append((ev, steps))
            if r.random() < DUP_RATE:  # retry: same line again, now or on the next day
                if r.random() < 0.4:
                    late_chat.append(line)
                    cross_day_dups[0] += 1
                else:
                    chat_out.append(line)
            if r.random() < MALFORMED_RATE:
                chat_out.append(malformed_chat(r, ev))
                malformed[0] += 1
            for st in steps:
                sline = dumps(st)
                step_out.append(sline)
                if r.random() < DUP_RATE:
                    if r.random() < 0.4:
                        late_steps.append(sline)
                        cross_day_dups[1] += 1
                    else:
                        step_out.append(sline)
                if r.random() < STEP_MALFORMED_RATE:
                    step_out.append(malformed_step(r, st))
                    malformed[1] += 1

    # Every arrival day exercises every case: at least one malformed line per
    # landing table, and at least one line re-sent on the next day.
    with_steps = [(ev, steps) for ev, steps in on_time_events if steps]
    if on_time_events and malformed[0] == 0:
        on_chat.append(malformed_chat(r, r.choice(on_time_events)[0]))
    if on_time_events and cross_day_dups[0] == 0:
        late_chat.append(dumps(r.choice(on_time_events)[0]))
    if with_steps and malformed[1] == 0:
        on_steps.append(malformed_step(r, r.choice(r.choice(with_steps)[1])))
    if with_steps and cross_day_dups[1] == 0:
        late_steps.append(dumps(r.choice(r.choice(with_steps)[1])))
    return r, (on_chat, on_steps), (late_chat, late_steps)


def write_lines(path: str, lines: list[str]) -> int:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = ("\n".join(lines) + "\n") if lines else ""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(data)
    return len(lines)


# The arrival day (0-based) that also receives the contract's conformance lines.
CONTRACT_DAY = 2
CONTRACT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                            "landing_contract")


def copy_contract_lines(table: str, folder: str) -> int:
    """Copy the conformance file of `table` into `folder`; returns its line count."""
    with open(os.path.join(CONTRACT_DIR, f"{table}.jsonl"), "rb") as f:
        data = f.read()
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "part-0001-contract.jsonl"), "wb") as f:
        f.write(data)
    return data.count(b"\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="data/landing", help="output directory [data/landing]")
    p.add_argument("--days", type=int, default=30, help="number of arrival days [30]")
    p.add_argument("--start", default="2026-01-01", help="first day, YYYY-MM-DD [2026-01-01]")
    p.add_argument("--seed", type=int, default=42, help="random seed [42]")
    p.add_argument("--users", type=int, default=200, help="size of the user population [200]")
    p.add_argument("--events-per-day", type=int, default=120,
                   help="chat events generated per event-day, before duplicates/malformed lines [120]")
    a = p.parse_args(argv)
    if a.days < 1 or a.users < 1 or a.events_per_day < 1:
        p.error("--days, --users and --events-per-day must be positive")
    try:
        start = dt.date.fromisoformat(a.start)
    except ValueError:
        p.error(f"--start must be YYYY-MM-DD, got {a.start!r}")

    world = World(a.seed, a.users)
    carry_chat: list[str] = []
    carry_steps: list[str] = []
    total_chat = total_steps = 0
    for i in range(a.days):
        day = start + dt.timedelta(days=i)
        r, (on_chat, on_steps), (late_chat, late_steps) = gen_day(world, a.seed, day, a.events_per_day)
        chat_lines = on_chat + carry_chat
        step_lines = on_steps + carry_steps
        r.shuffle(chat_lines)
        r.shuffle(step_lines)
        part = f"ingest_date={day.isoformat()}/part-0000.jsonl"
        total_chat += write_lines(os.path.join(a.out, "chat_events", part), chat_lines)
        total_steps += write_lines(os.path.join(a.out, "reasoning_steps", part), step_lines)
        carry_chat, carry_steps = late_chat, late_steps  # arrive tomorrow (dropped after the last day)
        if i == CONTRACT_DAY:
            for table in ("chat_events", "reasoning_steps"):
                total = copy_contract_lines(table, os.path.join(a.out, table, f"ingest_date={day.isoformat()}"))
                total_chat, total_steps = (total_chat + total, total_steps) if table == "chat_events" \
                    else (total_chat, total_steps + total)
    print(f"wrote {a.days} arrival days to {a.out}: {total_chat} chat_events lines, "
          f"{total_steps} reasoning_steps lines", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

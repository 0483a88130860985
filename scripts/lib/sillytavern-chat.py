"""Writes a SillyTavern chat of N messages to stdout, in the shapes current SillyTavern writes:
a header, alternating user and character lines with ISO `send_date`s, every tenth character
line with three swipes and their `swipe_info`, reasoning and model in `extra`.
    python3 scripts/lib/sillytavern-chat.py 100000 > chat.jsonl
"""
import datetime
import json
import sys

count = int(sys.argv[1])
start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)


def date(n):
    moment = start + datetime.timedelta(seconds=n)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


print(json.dumps({"user_name": "unused", "character_name": "unused", "create_date": "2025-1-1@00h00m00s",
                  "chat_metadata": {"integrity": "bench", "note_prompt": ""}}))
for n in range(count):
    if n % 2 == 0:
        line = {"name": "You", "is_user": True, "is_system": False, "send_date": date(n),
                "mes": f"message {n} " + "x" * 100, "extra": {}}
    else:
        extra = {"api": "openai", "model": "gpt-4o", "reasoning": f"thinking {n}", "token_count": 40}
        line = {"name": "Aria", "is_user": False, "is_system": False, "send_date": date(n),
                "mes": f"answer {n} " + "y" * 100, "extra": extra, "force_avatar": "characters/Aria.png"}
        if n % 20 == 1:
            line["swipes"] = [f"draft {n}", f"other {n}", line["mes"]]
            line["swipe_id"] = 2
            line["swipe_info"] = [{"send_date": date(n), "gen_started": date(n), "gen_finished": date(n),
                                   "extra": dict(extra)} for _ in range(3)]
    print(json.dumps(line, separators=(",", ":")), end="\n" if n + 1 < count else "")

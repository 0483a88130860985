"""Issue 20, reduced to driver operations: a transaction whose commit fails stays open.

Run against a MongoDB (real or emulated) on a replica set, e.g. the emulator as mongoeco
ships it and as the suite runs it:

    target/mongoeco-venv/bin/python scripts/mongoeco/server.py PORT --replset rs0 \
        --unpatched-transactions &     # or without the flag: the suite's shimmed server
    target/mongoeco-venv/bin/python scripts/mongoeco/repro_swipes.py \
        "mongodb://127.0.0.1:PORT/?directConnection=true"

Concurrent swipes are multi-document transactions; on mongoeco two of them collide at commit
("Write conflict during transaction commit", code 112, TransientTransactionError). mongod
ends a transaction whose commit failed, and a `startTransaction` with a new txnNumber always
opens a fresh one. mongoeco 4.11 did neither: the failed transaction stayed open on its
server session (lsid), so a driver that pools server sessions (the Rust driver, pymongo)
later ran the retry, and plain reads and writes that picked up that lsid as an implicit
session, inside the dead snapshot: documents written after it were "not found" (the 404s)
and writes were acknowledged but never became visible.

Each step prints what the driver returned and what mongod returns; the exit status is 1 when
any step differs from mongod. `scripts/mongoeco/server.py` carries the shim that fixes it.
"""

import sys

from pymongo import MongoClient
from pymongo.errors import OperationFailure

failures = []


def check(step, got, expected):
    verdict = "ok" if got == expected else "WRONG"
    if got != expected:
        failures.append(step)
    print(f"{verdict:5} {step}: got {got!r}, mongod gives {expected!r}")


def main(uri):
    # One pooled server session at a time makes the reuse deterministic.
    client = MongoClient(uri, maxPoolSize=1)
    client.drop_database("repro_issue20")
    collection = client.repro_issue20.messages
    collection.insert_one({"_id": "original"})

    loser = client.start_session()
    loser.start_transaction()
    collection.insert_one({"_id": "swipe-of-loser"}, session=loser)
    winner = client.start_session()
    winner.start_transaction()
    collection.insert_one({"_id": "swipe-of-winner"}, session=winner)
    winner.commit_transaction()
    print("      winner committed; the loser now commits")
    try:
        loser.commit_transaction()
        check("loser commit", "committed", "error 112 WriteConflict")
    except OperationFailure as error:
        labels = sorted(error._error_labels)
        check("loser commit", (error.code, labels), (112, ["TransientTransactionError"]))

    # The driver considers the transaction over (it may not abort after a commit) and
    # returns the server session to its pool, where the most recently returned one is
    # handed out first: the next implicit session gets the loser's lsid.
    loser_id = loser.session_id
    winner.end_session()
    loser.end_session()
    found = collection.find_one({"_id": "swipe-of-winner"})
    check("plain read of a committed document", found is not None, True)
    collection.insert_one({"_id": "after"})
    reader = MongoClient(uri)
    found = reader.repro_issue20.messages.find_one({"_id": "after"})
    check("plain insert, read by another client", found is not None, True)
    reader.close()

    # The retry: a new transaction (new txnNumber) on the pooled lsid.
    retry = client.start_session()
    check("the retry's session is the loser's lsid", retry.session_id == loser_id, True)
    retry.start_transaction()
    found = collection.find_one({"_id": "swipe-of-winner"}, session=retry)
    check("retry reads the winner's swipe", found is not None, True)
    own = collection.find_one({"_id": "swipe-of-loser"}, session=retry)
    check("retry sees the failed attempt's own write", own is not None, False)
    collection.insert_one({"_id": "swipe-of-retry"}, session=retry)
    try:
        retry.commit_transaction()
        check("retry commit (nothing else wrote)", "committed", "committed")
    except OperationFailure as error:
        check("retry commit (nothing else wrote)", f"error {error.code}", "committed")
    retry.end_session()
    client.drop_database("repro_issue20")
    client.close()
    print("reproduced: the emulator is at fault" if failures else "behaves as mongod does")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

"""A MongoDB wire-protocol server for the test suite: mongoeco's in-memory engine.

mongoeco (PyPI) emulates MongoDB in Python. It is NOT mongod: scripts/test.sh runs the API
suite against it when no real server is given (MONGODB_TEST_URI), as evidence for the mongodb
backend's queries, indexes, validators and transactions on a machine where mongod cannot be
installed. Its transactions conflict on any concurrent write anywhere (not per document), so
the suite runs one test at a time against it.

A few shims make it answer the official Rust driver as mongod would:
  * cursor ids as 64-bit integers (the driver refuses 32-bit ones);
  * every error reply with a `code` (the driver cannot read one without), a commit-time write
    conflict as code 112 with the TransientTransactionError label;
  * 64-bit getMore / limit / batchSize values accepted;
  * `--replset NAME`: `hello` says primary of a one-node replica set, so the driver uses
    transactions;
  * collMod of validator / validationLevel / validationAction (the memory engine lacks it);
  * a transaction ends as on mongod: when its commit fails, when the session starts another
    one, and when the session runs a command outside any transaction (issue 20;
    scripts/mongoeco/repro_swipes.py shows what happened without it).

Usage: python server.py PORT [--host 127.0.0.1] [--replset NAME] [--unpatched-transactions]
Prints "listening mongodb://HOST:PORT/..." once it accepts connections.
"""

import argparse
import asyncio

from bson import Int64
from mongoeco.core.bson_scalars import BsonInt64
from mongoeco.wire import AsyncMongoEcoProxyServer
from mongoeco.wire import executor as _executor
from mongoeco.wire import proxy as _proxy
from mongoeco.wire._session_identity import wire_session_key
from mongoeco.wire.handshake import WireHandshakeService
from mongoeco.wire.sessions import WireSessionStore

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--replset", default=None)
parser.add_argument("--unpatched-transactions", action="store_true",
                    help="keep mongoeco's own transaction endings (to rerun the issue 20 repro)")
args = parser.parse_args()

if args.replset:
    _hello = WireHandshakeService.build_hello_response
    me = f"{args.host}:{args.port}"

    def build_hello_response(self, **kwargs):
        reply = _hello(self, **kwargs)
        reply.update(
            {"setName": args.replset, "setVersion": 1, "hosts": [me], "primary": me,
             "me": me, "secondary": False}
        )
        return reply

    WireHandshakeService.build_hello_response = build_hello_response


def _fix_reply(reply):
    if not isinstance(reply, dict):
        return
    cursor = reply.get("cursor")
    if isinstance(cursor, dict) and type(cursor.get("id")) is int:
        cursor["id"] = Int64(cursor["id"])
    if reply.get("ok") in (0, 0.0) and "code" not in reply:
        message = str(reply.get("errmsg", ""))
        if "unsupported wire command" in message:
            reply["code"], reply["codeName"] = 59, "CommandNotFound"
        elif "Write conflict" in message:
            reply["code"], reply["codeName"] = 112, "WriteConflict"
            reply.setdefault("errorLabels", ["TransientTransactionError"])
        else:
            reply["code"], reply["codeName"] = 8, "UnknownError"


_render = _proxy.AsyncMongoEcoProxyServer._render_wire_result


def _render_wire_result(self, header, request_id, state):
    _fix_reply(state.result)
    return _render(self, header, request_id, state)


_proxy.AsyncMongoEcoProxyServer._render_wire_result = _render_wire_result

_CONTROL_INTEGERS = {"getMore", "limit", "batchSize", "skip", "maxTimeMS", "ntoreturn",
                     "maxAwaitTimeMS"}


def _plain_integers(body):
    if isinstance(body, dict):
        for key in list(body):
            if key in _CONTROL_INTEGERS and isinstance(body[key], BsonInt64):
                body[key] = int(body[key].value)
        cursor = body.get("cursor")
        if isinstance(cursor, dict) and isinstance(cursor.get("batchSize"), BsonInt64):
            cursor["batchSize"] = int(cursor["batchSize"].value)
    return body


def _coll_mod(executor, body, db_name):
    database = db_name or body.get("$db", "test")
    name = body["collMod"]
    options_by_db = getattr(executor._client._engine, "_collection_options", None)
    if options_by_db is None:
        return body
    options = dict(options_by_db.setdefault(database, {}).get(name) or {})
    for key in ("validator", "validationLevel", "validationAction"):
        if key in body:
            options[key] = body[key]
    options_by_db[database][name] = options
    return {"ping": 1, **{k: v for k, v in body.items() if k.startswith("$") or k == "lsid"}}


_build = _executor.WireCommandExecutor._build_request_context


def _build_request_context(self, body, **kwargs):
    body = _plain_integers(body)
    if isinstance(body, dict) and body and next(iter(body)) == "collMod":
        body = _coll_mod(self, body, kwargs.get("db_name"))
    return _build(self, body, **kwargs)


_executor.WireCommandExecutor._build_request_context = _build_request_context


# mongoeco keeps a transaction open after its commit failed (a write conflict), and joins a
# later startTransaction or plain command on the same lsid to it: drivers pool server
# sessions, so retries and unrelated implicit-session reads and writes ran in that dead
# snapshot (documents written since "not found", writes acknowledged and then lost). mongod
# aborts a transaction whose commit failed, and a newer txnNumber or a command without
# autocommit=false never runs inside an older transaction.
def end_transactions_as_mongod_does():
    _commit_transaction = WireSessionStore.commit_transaction

    def commit_transaction(self, body):
        try:
            return _commit_transaction(self, body)
        except Exception:
            lsid = body.get("lsid")
            context = None if lsid is None else self._sessions.get(wire_session_key(lsid))
            if context is not None and context.session.transaction_active:
                context.session.abort_transaction()
            raise

    WireSessionStore.commit_transaction = commit_transaction

    _resolve_for_command = WireSessionStore.resolve_for_command

    def resolve_for_command(self, client, body, *, capability):
        lsid = body.get("lsid")
        if capability.binds_session and lsid is not None:
            context = self._sessions.get(wire_session_key(lsid))
            joins_open_transaction = (body.get("autocommit") is False
                                      and body.get("startTransaction") is not True)
            if (context is not None and context.session.active
                    and context.session.transaction_active and not joins_open_transaction):
                context.session.abort_transaction()
        return _resolve_for_command(self, client, body, capability=capability)

    WireSessionStore.resolve_for_command = resolve_for_command


# mongod runs a findAndModify on one document atomically (the chat's `$inc` of lastSeq hands
# out message positions). mongoeco's async engine may interleave two of them: once, under
# heavy machine load, two concurrent appends got the same seq (a duplicate key on the
# messages' position index). Outside transactions they run one at a time here.
def serialize_find_and_modify():
    lock = asyncio.Lock()
    _execute_prepared = _executor.WireCommandExecutor.execute_prepared

    async def execute_prepared(self, context):
        body = context.raw_body
        single = (context.command_name.lower() == "findandmodify"
                  and not (isinstance(body, dict) and body.get("autocommit") is False))
        if not single:
            return await _execute_prepared(self, context)
        async with lock:
            return await _execute_prepared(self, context)

    _executor.WireCommandExecutor.execute_prepared = execute_prepared


if not args.unpatched_transactions:
    end_transactions_as_mongod_does()
serialize_find_and_modify()


async def main():
    server = AsyncMongoEcoProxyServer(host=args.host, port=args.port)
    address = await server.start()
    print("listening", address.uri, flush=True)
    await asyncio.Event().wait()


asyncio.run(main())

import json, time, uuid
from backend.conversations import repository as conversations
from backend.db import insert_sql
from tests.fixtures.factories import create_chatbot


async def test_cost(client, context, admin):
    bot = await create_chatbot(client, admin)
    ws = uuid.UUID(admin.workspace_id)
    conv = uuid.uuid4()
    async with context.db.for_workspace(ws, "t") as conn:
        await conversations.create_conversation(conn, conversation_id=conv, workspace_id=ws,
            chatbot_id=uuid.UUID(bot["id"]), visitor_id="v", channel="widget", is_preview=False)

    def msgs(**extra):
        return [{"workspace_id": ws, "conversation_id": conv, "role": "user", "content": "hello there " * 5, **extra},
                {"workspace_id": ws, "conversation_id": conv, "id": uuid.uuid4(), "role": "assistant", "content": "hello there " * 5, "source": "model", "cost": 0, "model": "x", **extra}]

    async def old(conn):
        for m in msgs():
            values = {**m, "actions": json.dumps([]), "citations": json.dumps([])}
            await conn.execute(insert_sql("messages", values), values)

    async def each(conn):
        for m in msgs():
            await conversations.add_message(conn, m)

    async def multi(conn):
        await conversations.add_messages(conn, msgs())

    async def multi_ch(conn):
        await conversations.add_messages(conn, msgs(channel="widget"))

    results = {}
    for rnd in range(4):
        for name, fn in (("old", old), ("each", each), ("multi", multi), ("multi_ch", multi_ch)):
            async with context.db.for_workspace(ws, "t") as conn:
                t = time.perf_counter()
                for _ in range(400):
                    async with conn.pipeline():
                        await fn(conn)
                results.setdefault(name, []).append((time.perf_counter() - t) / 400 * 1000)
    print("\nRESULT ms/turn", {k: sorted(round(x, 3) for x in v) for k, v in results.items()})

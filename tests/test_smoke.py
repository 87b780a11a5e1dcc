async def test_health(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json()["database"] == "ok"


async def test_admin(admin):
    assert admin.workspace_id

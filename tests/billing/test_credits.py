"""The credit ledger: each grant is given once per workspace and (source, reference), the
balance moves with it, credits make an unmetered workspace prepaid, a workspace paused for lack
of credits resumes when it gets some, and operators grant credits with `voxtro credits grant` —
with or without Stripe."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from backend.billing import credits_repository as credits
from backend.billing import service as billing
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_JWT_SECRET


async def account(context, workspace_id: str) -> dict[str, Any]:
    async with context.db.system() as conn:
        row = await (
            await conn.execute(
                "select total_credits, used_credits, is_paused, paused_reason"
                " from billing_accounts where workspace_id = %s",
                (workspace_id,),
            )
        ).fetchone()
    assert row is not None
    return row


async def grant(
    context, workspace_id: str, amount: str, source: credits.Source, reference: str
) -> bool:
    async with context.db.system() as conn:
        return await credits.grant(conn, UUID(workspace_id), Decimal(amount), source, reference)


async def test_a_grant_counts_once_per_source_and_reference(client, context, admin):
    assert await grant(context, admin.workspace_id, "10", "cli", "invoice-42") is True
    assert await grant(context, admin.workspace_id, "10", "cli", "invoice-42") is False
    # The same reference from another source is another grant.
    assert await grant(context, admin.workspace_id, "2.5", "adjustment", "invoice-42") is True

    response = await client.get("/api/business/credits", headers=admin.headers)
    data = response.json()["data"]
    assert data["totalCredits"] == 12.5 and data["availableCredits"] == 12.5
    row = await account(context, admin.workspace_id)
    assert row["total_credits"] == Decimal("12.5")
    async with context.db.system() as conn:
        ledger = await (
            await conn.execute(
                "select sum(amount) as total, count(*) as n from credit_grants"
                " where workspace_id = %s",
                (admin.workspace_id,),
            )
        ).fetchone()
    assert (ledger["total"], ledger["n"]) == (Decimal("12.5"), 2)  # the ledger adds up


async def test_a_reference_counts_per_workspace(context, admin, other_admin):
    assert await grant(context, admin.workspace_id, "10", "cli", "deal-1") is True
    # The same operator reference for another workspace is that workspace's grant.
    assert await grant(context, other_admin.workspace_id, "3", "cli", "deal-1") is True
    assert await grant(context, other_admin.workspace_id, "3", "cli", "deal-1") is False
    assert (await account(context, admin.workspace_id))["total_credits"] == Decimal("10")
    assert (await account(context, other_admin.workspace_id))["total_credits"] == Decimal("3")


async def mode_of(context, workspace_id: str) -> str | None:
    async with context.db.system() as conn:
        row = await (
            await conn.execute(
                "select billing_mode from billing_accounts where workspace_id = %s",
                (workspace_id,),
            )
        ).fetchone()
    return row["billing_mode"] if row else None


@pytest.mark.parametrize("source", ["cli", "adjustment"])
async def test_credits_make_an_unmetered_workspace_prepaid(context, admin, other_admin, source):
    """Billing without Stripe: the operator's credits are charged, or they would mean nothing."""
    assert await mode_of(context, admin.workspace_id) is None  # no account yet: unmetered
    await grant(context, admin.workspace_id, "1", source, "first")
    assert await mode_of(context, admin.workspace_id) == "prepaid"
    ws = UUID(admin.workspace_id)
    async with context.db.for_workspace(ws, "test") as conn:
        await billing.settle(conn, ws, billing.Admission(None), Decimal("0.25"))
    row = await account(context, admin.workspace_id)
    assert (row["total_credits"], row["used_credits"]) == (Decimal("1"), Decimal("0.25"))

    # An account that exists unmetered (its spend recorded before any credits) too.
    async with context.db.system() as conn:
        await conn.execute(
            "insert into billing_accounts (workspace_id) values (%s)", (other_admin.workspace_id,)
        )
    assert await mode_of(context, other_admin.workspace_id) == "unmetered"
    await grant(context, other_admin.workspace_id, "2", source, "first")
    assert await mode_of(context, other_admin.workspace_id) == "prepaid"


async def test_credits_leave_a_plan_alone_and_a_deduction_changes_no_mode(
    context, admin, other_admin
):
    async with context.db.system() as conn:
        await conn.execute(
            "insert into billing_accounts (workspace_id, billing_mode) values (%s, 'subscription')",
            (admin.workspace_id,),
        )
    await grant(context, admin.workspace_id, "5", "cli", "on-a-plan")
    assert await mode_of(context, admin.workspace_id) == "subscription"
    await grant(context, other_admin.workspace_id, "-1", "adjustment", "correction")
    assert await mode_of(context, other_admin.workspace_id) == "unmetered"


@pytest.mark.parametrize(
    ("reason", "lifted"), [("credits", True), ("budget", False), ("payment", False)]
)
async def test_new_credits_lift_a_credits_pause_and_no_other(context, admin, reason, lifted):
    await grant(context, admin.workspace_id, "1", "cli", "first")
    async with context.db.system() as conn:
        await conn.execute(
            "update billing_accounts set used_credits = 1, is_paused = true, paused_reason = %s"
            " where workspace_id = %s",
            (reason, admin.workspace_id),
        )
    await grant(context, admin.workspace_id, "0.5", "cli", "second")
    row = await account(context, admin.workspace_id)
    assert row["total_credits"] == Decimal("1.5")
    assert row["is_paused"] is (not lifted)
    assert row["paused_reason"] == (None if lifted else reason)


def voxtro(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `voxtro` entry point, in its own process, on the test database, no Stripe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DATABASE_"))}
    env.update(
        {
            "DATABASE_URL": database_url,
            "VOXTRO_DATA_DIR": tempfile.mkdtemp(prefix="vxc"),
            "SUPABASE_JWT_SECRET": TEST_JWT_SECRET,
            "ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
            "LOG_JSON": "false",
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", "credits", "grant", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_cli_grants_once_per_reference(database_url, client, context, admin):
    async with context.db.system() as conn:
        slug = (
            await (
                await conn.execute(
                    "select slug from workspaces where id = %s", (admin.workspace_id,)
                )
            ).fetchone()
        )["slug"]

    first = voxtro(database_url, slug, "25", "--reference", "deal-7", "--note", "Launch offer")
    assert first.returncode == 0, first.stderr
    assert f"Granted $25.00 to {slug}" in first.stdout
    assert "Billing mode: unmetered -> prepaid" in first.stdout  # the credits are charged
    assert "Available credits: $25.00" in first.stdout

    again = voxtro(database_url, slug, "25", "--reference", "deal-7")
    assert again.returncode == 0, again.stderr
    assert "Already granted with the reference 'deal-7'" in again.stdout
    assert "Billing mode" not in again.stdout
    assert "Available credits: $25.00" in again.stdout

    # By id, without a reference: every run is a grant of its own.
    by_id = voxtro(database_url, admin.workspace_id, "0.75")
    assert by_id.returncode == 0, by_id.stderr
    assert "Available credits: $25.75" in by_id.stdout

    unknown = voxtro(database_url, "no-such-workspace", "5")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "Error: no workspace with the slug, id or name 'no-such-workspace'"
    )
    nothing = voxtro(database_url, slug, "0")
    assert nothing.returncode == 2  # a usage error: nothing was granted
    assert "must be more than 0" in nothing.stderr

    response = await client.get("/api/business/credits", headers=admin.headers)
    assert response.json()["data"]["totalCredits"] == 25.75
    async with context.db.system() as conn:
        rows = await (
            await conn.execute(
                "select amount, source, reference, note from credit_grants"
                " where workspace_id = %s order by amount desc",
                (admin.workspace_id,),
            )
        ).fetchall()
    assert [(r["amount"], r["source"], r["note"]) for r in rows] == [
        (Decimal("25"), "cli", "Launch offer"),
        (Decimal("0.75"), "cli", None),
    ]
    assert rows[0]["reference"] == "deal-7" and rows[1]["reference"].startswith("cli-")


async def test_the_cli_finds_a_workspace_by_name_and_refuses_an_ambiguous_one(
    database_url, client, admin, other_admin
):
    made = []
    for owner, name in [(admin, "Acme Clinic"), (other_admin, "Acme Clinic"), (admin, "Bolt")]:
        response = await client.post("/api/workspaces", headers=owner.headers, json={"name": name})
        assert response.status_code == 201, response.text
        made.append(response.json()["data"])

    by_name = voxtro(database_url, "bolt", "3")  # any case
    assert by_name.returncode == 0, by_name.stderr
    assert f"Granted $3.00 to {made[2]['slug']} ({made[2]['id']})" in by_name.stdout

    ambiguous = voxtro(database_url, "Acme Clinic", "3")
    assert ambiguous.returncode == 1
    assert ambiguous.stderr.strip() == (
        f"Error: 2 workspaces are named 'Acme Clinic': {made[0]['slug']} ({made[0]['id']}),"
        f" {made[1]['slug']} ({made[1]['id']}). Give the slug or id of the one you mean."
    )
    assert "Granted" not in ambiguous.stdout

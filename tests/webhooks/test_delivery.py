"""The relay through real HTTP to a local receiver: fan-out, signatures, retries, 410,
Retry-After, rotation, failure and redelivery, health of subscriptions."""

import json
import uuid
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from sqlalchemy import select, update

from app.models.webhook import Delivery, DeliveryAttempt, WebhookSubscription
from app.webhooks.retry import MAX_ATTEMPTS
from tests.conftest import outbox_events
from tests.logs import json_log_lines
from tests.webhooks.conftest import verify


async def subscribe(client, admin, url, **fields):
    response = await client.post(
        "/api/v1/webhooks", headers=admin.headers, json={"url": url, **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def change_profile(client, actor, city="Kazan"):
    response = await client.patch("/api/v1/me", headers=actor.headers, json={"city": city})
    assert response.status_code == 200, response.text


async def deliveries(db):
    db.expire_all()
    return list((await db.execute(select(Delivery).order_by(Delivery.created_at))).scalars())


async def make_due(db):
    await db.execute(update(Delivery).values(next_attempt_at=datetime.now(UTC)))


async def test_event_reaches_matching_subscriptions_signed(client, factory, db, receiver, worker):
    rec, base = receiver
    admin = await factory.member("admin")
    member = await factory.member("member")
    wanted = await subscribe(client, admin, f"{base}/a", event_types=["member.updated"])
    await subscribe(client, admin, f"{base}/b", event_types=["member.erased"])

    await change_profile(client, member)
    assert await worker.run_once() == 2  # one event fanned out, one delivery made

    [arrival] = rec.arrivals
    body = verify(wanted["secret"], arrival)
    [event] = await outbox_events(db, "member.updated")
    assert body == {
        "id": str(event.id),
        "type": "member.updated",
        "type_version": 1,
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": {"id": str(member.id), "version": 2, "fields": ["city"], "privacy_changed": False},
    }
    assert arrival.headers["webhook-id"] == f"msg_{event.id.hex}"
    [delivery] = await deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    await db.refresh(event)
    assert event.dispatched_at is not None


async def test_failure_is_retried_on_schedule_with_the_same_id(
    client, factory, db, receiver, worker
):
    rec, base = receiver
    rec.replies = [(500, {})]
    admin = await factory.member("admin")
    sub = await subscribe(client, admin, f"{base}/hook")
    await change_profile(client, admin)

    before = datetime.now(UTC)
    await worker.run_once()
    [delivery] = await deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")
    wait = delivery.next_attempt_at - before
    assert timedelta(seconds=3.9) <= wait <= timedelta(seconds=6.5)  # 5 s +- 20 % jitter
    assert await worker.run_once() == 0  # not due yet

    await make_due(db)
    await worker.run_once()
    [delivery] = await deliveries(db)
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    first, second = rec.arrivals
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert verify(sub["secret"], second) == verify(sub["secret"], first)
    attempts = (
        (
            await db.execute(
                select(DeliveryAttempt.status_code).order_by(DeliveryAttempt.attempted_at)
            )
        )
        .scalars()
        .all()
    )
    assert attempts == [500, 200]


async def test_gone_disables_the_subscription_and_tells_admins(
    client, factory, db, receiver, worker
):
    rec, base = receiver
    rec.default = 410
    admin = await factory.member("admin")
    sub = await subscribe(client, admin, f"{base}/hook", event_types=["member.updated"])
    await change_profile(client, admin)
    await worker.run_once()

    [delivery] = await deliveries(db)
    assert (delivery.status, delivery.last_status_code) == ("failed", 410)
    read = (await client.get(f"/api/v1/webhooks/{sub['id']}", headers=admin.headers)).json()
    assert (read["enabled"], read["disabled_reason"]) == (False, "gone")
    [disabled] = await outbox_events(db, "webhook_subscription.disabled")
    assert disabled.data["reason"] == "gone" and disabled.subject_id == uuid.UUID(sub["id"])


async def test_retry_after_is_honoured(client, factory, db, receiver, worker):
    rec, base = receiver
    rec.replies = [(429, {"Retry-After": "600"})]
    admin = await factory.member("admin")
    await subscribe(client, admin, f"{base}/hook")
    await change_profile(client, admin)
    before = datetime.now(UTC)
    await worker.run_once()
    [delivery] = await deliveries(db)
    assert delivery.next_attempt_at - before >= timedelta(seconds=600)


async def test_redirect_is_not_followed(client, factory, db, receiver, worker):
    rec, base = receiver
    rec.replies = [(302, {"Location": f"{base}/elsewhere"})]
    admin = await factory.member("admin")
    await subscribe(client, admin, f"{base}/hook")
    await change_profile(client, admin)
    await worker.run_once()
    assert len(rec.arrivals) == 1
    [delivery] = await deliveries(db)
    assert (delivery.status, delivery.last_status_code) == ("pending", 302)


async def test_rotation_signs_with_both_secrets(client, factory, db, receiver, worker):
    rec, base = receiver
    admin = await factory.member("admin")
    old = await subscribe(client, admin, f"{base}/hook")
    rotated = (
        await client.post(f"/api/v1/webhooks/{old['id']}/rotate-secret", headers=admin.headers)
    ).json()
    assert rotated["secret"] != old["secret"] and rotated["secret_rotation_ends_at"]
    await change_profile(client, admin)
    await worker.run_once()
    [arrival] = rec.arrivals
    assert len(arrival.headers["webhook-signature"].split(" ")) == 2
    assert verify(old["secret"], arrival) == verify(rotated["secret"], arrival)


async def test_rotation_ends_and_the_old_secret_stops_signing(
    client, factory, db, receiver, worker
):
    rec, base = receiver
    admin = await factory.member("admin")
    old = await subscribe(client, admin, f"{base}/hook")
    rotated = (
        await client.post(f"/api/v1/webhooks/{old['id']}/rotate-secret", headers=admin.headers)
    ).json()
    await db.execute(
        update(WebhookSubscription).values(
            previous_secret_expires_at=datetime.now(UTC) - timedelta(seconds=1)
        )
    )
    await change_profile(client, admin)
    await worker.run_once()
    [arrival] = rec.arrivals
    assert len(arrival.headers["webhook-signature"].split(" ")) == 1
    verify(rotated["secret"], arrival)
    read = (await client.get(f"/api/v1/webhooks/{old['id']}", headers=admin.headers)).json()
    assert read["secret_rotation_ends_at"] is None


async def test_last_attempt_fails_is_listed_and_can_be_redelivered(
    client, factory, db, receiver, worker
):
    rec, base = receiver
    rec.replies = [(500, {})]
    admin = await factory.member("admin")
    sub = await subscribe(client, admin, f"{base}/hook")
    await change_profile(client, admin)
    await worker.run_once()  # fan out and fail the first attempt
    await db.execute(update(Delivery).values(attempts=MAX_ATTEMPTS - 1))
    rec.replies = [(503, {})]
    await make_due(db)
    await worker.run_once()
    [delivery] = await deliveries(db)
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)

    failed = (
        await client.get(
            f"/api/v1/webhooks/{sub['id']}/deliveries",
            params={"status": "failed"},
            headers=admin.headers,
        )
    ).json()
    assert [d["id"] for d in failed["items"]] == [str(delivery.id)]
    assert failed["items"][0]["next_attempt_at"] is None

    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    again = await client.post(
        f"/api/v1/webhooks/{sub['id']}/redeliver-failed",
        json={"since": since},
        headers=admin.headers,
    )
    assert again.status_code == 202 and again.json()["requeued"] == 1
    await worker.run_once()
    [delivery] = await deliveries(db)
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    assert len({a.headers["webhook-id"] for a in rec.arrivals}) == 1

    detail = (
        await client.get(
            f"/api/v1/webhooks/{sub['id']}/deliveries/{delivery.id}", headers=admin.headers
        )
    ).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 503, 200]
    assert detail["payload"]["type"] == "member.updated"
    assert detail["attempt_log"][0]["response_excerpt"] == "status 500"


async def test_failing_for_days_disables(client, factory, db, receiver, worker):
    rec, base = receiver
    rec.default = 500
    admin = await factory.member("admin")
    sub = await subscribe(client, admin, f"{base}/hook", event_types=["member.updated"])
    await db.execute(
        update(WebhookSubscription).values(
            failing_since=datetime.now(UTC) - timedelta(days=5, minutes=1)
        )
    )
    await change_profile(client, admin)
    await worker.run_once()
    read = (await client.get(f"/api/v1/webhooks/{sub['id']}", headers=admin.headers)).json()
    assert (read["enabled"], read["disabled_reason"]) == (False, "failing")
    assert len(await outbox_events(db, "webhook_subscription.disabled")) == 1


async def test_success_clears_the_failure_record(client, factory, db, receiver, worker):
    rec, base = receiver
    admin = await factory.member("admin")
    sub = await subscribe(client, admin, f"{base}/hook")
    await db.execute(
        update(WebhookSubscription).values(failing_since=datetime.now(UTC) - timedelta(days=1))
    )
    await change_profile(client, admin)
    await worker.run_once()
    read = (await client.get(f"/api/v1/webhooks/{sub['id']}", headers=admin.headers)).json()
    assert (read["enabled"], read["failing_since"]) == (True, None)


async def test_receiver_that_hangs_times_out(client, factory, db, receiver, worker):
    rec, base = receiver
    rec.delay = 5  # longer than the worker's 2 s timeout
    admin = await factory.member("admin")
    await subscribe(client, admin, f"{base}/hook")
    await change_profile(client, admin)
    await worker.run_once()
    [delivery] = await deliveries(db)
    assert (delivery.status, delivery.last_error) == ("pending", "timeout")


async def test_ping_goes_to_one_subscription_only(client, factory, db, receiver, worker):
    rec, base = receiver
    admin = await factory.member("admin")
    target = await subscribe(client, admin, f"{base}/target")
    await subscribe(client, admin, f"{base}/other")
    response = await client.post(f"/api/v1/webhooks/{target['id']}/ping", headers=admin.headers)
    assert response.status_code == 202
    assert response.json()["event_type"] == "webhook.ping"
    await worker.run_once()
    [arrival] = rec.arrivals
    assert verify(target["secret"], arrival)["data"] == {"id": target["id"], "version": 1}


async def test_disabled_subscription_gets_nothing(client, factory, db, receiver, worker):
    rec, base = receiver
    admin = await factory.member("admin")
    sub = await subscribe(client, admin, f"{base}/hook", enabled=False)
    await change_profile(client, admin)
    await worker.run_once()
    assert rec.arrivals == [] and await deliveries(db) == []
    ping = await client.post(f"/api/v1/webhooks/{sub['id']}/ping", headers=admin.headers)
    assert ping.status_code == 409


async def test_rolled_back_change_sends_nothing(client, factory, db, receiver, worker):
    rec, base = receiver
    admin = await factory.member("admin")
    await subscribe(client, admin, f"{base}/hook")
    response = await client.patch(
        "/api/v1/me", headers=admin.headers, json={"full_name": None}
    )  # refused: nothing committed
    assert response.status_code == 422
    await worker.run_once()
    assert rec.arrivals == []
    assert await outbox_events(db, "member.updated") == []


async def test_an_expired_lease_is_claimed_again_and_a_stale_result_ignored(
    client, factory, db, receiver, worker, app
):
    from app.worker import relay

    rec, base = receiver
    admin = await factory.member("admin")
    await subscribe(client, admin, f"{base}/hook")
    await change_profile(client, admin)
    async with app.state.sessionmaker() as session:
        await relay.fan_out(session, list(worker.channels.values()), 10)
        crashed = uuid.uuid4()
        [job] = await relay.claim(session, worker.settings, crashed, 10)
        await session.commit()
    assert await worker.run_once() == 0  # leased by the "crashed" worker

    await db.execute(update(Delivery).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    assert await worker.run_once() == 1
    [delivery] = await deliveries(db)
    assert delivery.status == "succeeded"

    from app.core.delivery import Outcome

    async with app.state.sessionmaker() as session:  # the crashed worker wakes up late
        await relay.record(
            session,
            worker.settings,
            job,
            crashed,
            Outcome(succeeded=False, error="late"),
            worker.rng,
        )
        await session.commit()
    [delivery] = await deliveries(db)
    assert (delivery.status, delivery.last_error) == ("succeeded", None)
    assert len(rec.arrivals) == 1


async def test_a_failed_attempt_is_logged_with_its_delivery_and_counted(
    client, factory, db, receiver, worker
):
    rec, base = receiver
    rec.replies = [(500, {})]
    admin = await factory.member("admin", email="quiet.admin@example.com")
    await subscribe(client, admin, f"{base}/hook", event_types=["member.updated"])
    await change_profile(client, admin)
    retries = {"channel": "webhook", "outcome": "retry"}
    before = REGISTRY.get_sample_value("dl_delivery_attempts_total", retries) or 0.0
    with json_log_lines() as lines:
        await worker.run_once()
    assert REGISTRY.get_sample_value("dl_delivery_attempts_total", retries) == before + 1
    [delivery] = await deliveries(db)
    [line] = [line for line in lines if line["logger"] == "app.worker.relay"]
    assert line["level"] == "WARNING"
    assert (line["delivery_id"], line["channel"], line["event_type"]) == (
        str(delivery.id),
        "webhook",
        "member.updated",
    )
    assert (line["attempt"], line["status_code"]) == (1, 500)
    assert "HTTP 500" in line["message"] and "retrying in" in line["message"]
    assert "request_id" not in line and "@" not in json.dumps(line)

"""The shop's WhatsApp notifications (CHICX integration guide §2.1-2.4): `POST /webhooks/{slug}/…`
with the guide's bodies, authenticated like `confirm-order` (`X-{SLUG}-Secret` or `X-API-Key`,
scope `notifications:send`, a key of the workspace the slug names).

HTTP status. A request that is wrong is answered with §6's errors in the platform's body: 400
`VALIDATION_ERROR` naming the field, 401 `UNAUTHORIZED`, 403 for a key without the scope, 429
`RATE_LIMITED` (the sixth OTP to a phone within an hour; `Retry-After`), 409 while the workspace
has no notification bot. A valid request whose message Meta refused is answered 200 with the
guide's own error body (§2.1: `{"status": "error", "message": "WhatsApp API error: …", "phone",
"type"}`, plus `code` and our `message_id`): that example carries no HTTP error of §6's table,
and none fits, since the request was right and we did not fail; it is the notification's
outcome, which a shop reads from `status` as the guide's examples do. A 5xx would also make
shops' HTTP clients retry a message Meta refused for good (an invalid number, a template that
does not exist), each retry another refused send (and another OTP counted). A marketing message
to a contact who opted out is answered the same way (`code: "OPTED_OUT"`), nothing sent.

Routes that reach Meta take no `Session`: they hold no database connection while Meta answers.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from backend.context import Context
from backend.errors import CHICX_CODES
from backend.kit.schemas import ErrorBody
from backend.notifications.dependencies import NotificationSender
from backend.whatsapp import notifications
from backend.whatsapp.schemas import (
    CartReminderSend,
    CartReminderSent,
    NewProductSend,
    NewProductSent,
    NotificationRefused,
    OrderUpdateSend,
    OrderUpdateSent,
    OtpSend,
    OtpSent,
)

router = APIRouter(
    prefix="/webhooks/{slug}",
    tags=["notifications"],
    dependencies=[Depends(CHICX_CODES)],
    responses={
        409: {
            "model": ErrorBody,
            "description": "WHATSAPP_NOT_CONFIGURED: no bot of the workspace has WhatsApp enabled"
            " with a number, or several have and the WhatsApp settings name none"
            " (`notification_chatbot_id`)",
        }
    },
)


@router.post("/send-otp", summary="Send an OTP on WhatsApp")
async def send_otp(
    data: OtpSend, subject: NotificationSender, context: Context
) -> OtpSent | NotificationRefused:
    """Deliver the shop's OTP through the workspace's authentication template (`otp` unless
    its WhatsApp settings name another), from the primary number. At most 5 OTPs per phone per
    hour: the sixth is 429 `RATE_LIMITED` and sends nothing."""
    return await notifications.send_otp(context, subject, data)


@router.post("/cart-reminder", summary="Send a cart reminder on WhatsApp")
async def cart_reminder(
    data: CartReminderSend, subject: NotificationSender, context: Context
) -> CartReminderSent | NotificationRefused:
    """The `cart_reminder` template (marketing: from the marketing number when the bot has
    one): the name, the product and the total (`Rs.2499`) in its body, the product's image as
    its header when given, the checkout link in its "Complete Order" button when given. Not
    sent to a contact who opted out of marketing."""
    return await notifications.send_cart_reminder(context, subject, data)


@router.post("/order-update", summary="Send an order update on WhatsApp")
async def order_update(
    data: OrderUpdateSend, subject: NotificationSender, context: Context
) -> OrderUpdateSent | NotificationRefused:
    """The `order_update` template (utility, from the primary number): the order and its
    status, the tracking link in its "Track Order" button when given."""
    return await notifications.send_order_update(context, subject, data)


@router.post("/new-product", summary="Announce a new product on WhatsApp")
async def new_product(
    data: NewProductSend, subject: NotificationSender, context: Context
) -> NewProductSent:
    """The `new_product` template (marketing) to up to 1,000 phones, each once, at the
    number's pace; answered when every recipient has an outcome, with the totals and each
    failure's reason (an opted-out contact, Meta's refusal)."""
    return await notifications.send_new_product(context, subject, data)

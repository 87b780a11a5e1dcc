"""Every router of the product, in one place."""

from __future__ import annotations

from fastapi import APIRouter

from backend.analytics.router import router as analytics_router
from backend.api_keys.router import router as api_keys_router
from backend.auth.gotrue.router import router as gotrue_router
from backend.auth.router import router as auth_router
from backend.billing.router import router as billing_router
from backend.business.router import router as business_router
from backend.cache.router import router as cache_router
from backend.chatbots.router import router as chatbots_router
from backend.connections.router import router as connections_router
from backend.contacts.router import router as contacts_router
from backend.conversations.router import router as conversations_router
from backend.customers.router import router as customers_router
from backend.health.router import router as health_router
from backend.knowledge.router import router as knowledge_router
from backend.knowledge.router import sources_router as knowledge_sources_router
from backend.leads.router import router as leads_router
from backend.notifications.router import router as notifications_router
from backend.portal.router import router as portal_router
from backend.stats.router import router as stats_router
from backend.voice.bolna.router import router as bolna_router
from backend.voice.elevenlabs.router import router as elevenlabs_router
from backend.voice.vapi.router import router as vapi_router
from backend.whatsapp.router_bots import router as whatsapp_bots_router
from backend.whatsapp.router_notifications import router as whatsapp_notifications_router
from backend.whatsapp.router_send import router as whatsapp_send_router
from backend.whatsapp.router_webhook import router as whatsapp_webhook_router
from backend.widget.openai_compat import router as openai_compat_router
from backend.widget.router import chat_router
from backend.widget.router import router as widget_router
from backend.widget.static import router as widget_static_router
from backend.workspaces.router import router as workspaces_router


def build_router(*, local_auth: bool) -> APIRouter:
    router = APIRouter()
    # First: Starlette tries routes in order, and Meta's deliveries are the busiest requests
    # (hundreds a second for a busy number): matched after ~300 routes, nearly half of their CPU
    # went to finding the route.
    router.include_router(whatsapp_webhook_router)
    router.include_router(health_router)
    router.include_router(auth_router)
    if local_auth:  # with SUPABASE_URL, Supabase Auth itself serves /auth/v1
        router.include_router(gotrue_router)
    router.include_router(workspaces_router)
    router.include_router(api_keys_router)
    router.include_router(business_router)
    router.include_router(billing_router)
    router.include_router(analytics_router)
    router.include_router(connections_router)
    router.include_router(chatbots_router)
    router.include_router(chat_router)
    router.include_router(openai_compat_router)
    router.include_router(cache_router)
    router.include_router(knowledge_router)
    router.include_router(knowledge_sources_router)
    router.include_router(portal_router)  # before customers: `/{customer_id}` matches `portal`
    router.include_router(conversations_router)
    router.include_router(customers_router)
    router.include_router(contacts_router)
    router.include_router(notifications_router)
    router.include_router(leads_router)
    router.include_router(stats_router)
    router.include_router(widget_router)
    router.include_router(widget_static_router)
    router.include_router(vapi_router)
    router.include_router(bolna_router)
    # Before ElevenLabs: its `/api/whatsapp/{agent_id}` would match `/api/whatsapp/settings`.
    router.include_router(whatsapp_bots_router)
    router.include_router(elevenlabs_router)
    router.include_router(whatsapp_send_router)
    router.include_router(whatsapp_notifications_router)
    return router

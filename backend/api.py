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


def routers(*, local_auth: bool) -> list[APIRouter]:
    """Every router, in the order their routes are tried. The app includes each itself: FastAPI
    walks the tree of included routers on every request, and a flat tree halves the walk."""
    return [
        # First: routes are tried in order, and Meta's deliveries are the busiest requests
        # (hundreds a second for a busy number): matched after ~300 routes, nearly half of
        # their CPU went to finding the route.
        whatsapp_webhook_router,
        health_router,
        auth_router,
        *([gotrue_router] if local_auth else []),  # with SUPABASE_URL, Supabase serves /auth/v1
        workspaces_router,
        api_keys_router,
        business_router,
        billing_router,
        analytics_router,
        connections_router,
        chatbots_router,
        chat_router,
        openai_compat_router,
        cache_router,
        knowledge_router,
        knowledge_sources_router,
        portal_router,  # before customers: `/{customer_id}` matches `portal`
        conversations_router,
        customers_router,
        contacts_router,
        notifications_router,
        leads_router,
        stats_router,
        widget_router,
        widget_static_router,
        vapi_router,
        bolna_router,
        # Before ElevenLabs: its `/api/whatsapp/{agent_id}` would match `/api/whatsapp/settings`.
        whatsapp_bots_router,
        elevenlabs_router,
        whatsapp_send_router,
        whatsapp_notifications_router,
    ]

"""The customer portal: request and response bodies."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from backend.customers.schemas import Priority


class PortalTicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10000)
    priority: Priority = "medium"
    conversation_id: UUID | None = None


class PortalProfile(BaseModel):
    id: UUID
    user_id: UUID
    email: str | None
    full_name: str | None
    company_name: str | None
    chatbot_id: UUID | None
    created_by_user_id: UUID | None


class PortalChatbot(BaseModel):
    id: UUID
    name: str
    avatar_url: str | None
    first_message: str
    is_active: bool


class PortalVoiceAssistant(BaseModel):
    id: str  # VAPI's id, as the voice API names assistants
    name: str
    phone_number: str


class PortalWhatsAppAgent(BaseModel):
    id: str  # ElevenLabs' agent id, as the WhatsApp agents API names agents
    name: str
    status: str


class PortalAgents(BaseModel):
    chatbots: list[PortalChatbot]
    voice_assistants: list[PortalVoiceAssistant]
    whatsapp_agents: list[PortalWhatsAppAgent]


class PortalMessage(BaseModel):
    id: UUID
    role: str
    content: str
    created_at: datetime

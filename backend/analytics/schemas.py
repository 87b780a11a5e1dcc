"""The omnichannel document's Analytics API shapes (camelCase, as documented)."""

from __future__ import annotations

from pydantic import BaseModel


class ServiceCost(BaseModel):
    service: str  # OPENAI_GPT, OPENAI_EMBEDDING, VAPI_VOICE, …
    cost: float
    percentage: float  # of the total, one decimal; the breakdown's sum to exactly 100


class ChannelCost(BaseModel):
    channel: str  # CHAT, API, WHATSAPP, PORTAL, VOICE, …
    cost: float
    percentage: float


class DayCost(BaseModel):
    day: str  # YYYY-MM-DD, in the workspace's time zone
    cost: float
    percentage: float


class CostBreakdown(BaseModel):
    total: float
    breakdown: list[ServiceCost | ChannelCost | DayCost]


class ConversationFigures(BaseModel):
    total: int
    active: int
    closed: int
    avgDuration: float  # minutes


class CustomerFigures(BaseModel):
    total: int
    newThisMonth: int
    verified: int


class CostFigures(BaseModel):
    today: float
    thisMonth: float
    projected: float  # this month's spend at its pace so far, over the whole month


class CacheFigures(BaseModel):
    hitRate: int  # percent of answers served from the response cache
    totalCached: int


class Dashboard(BaseModel):
    conversations: ConversationFigures
    customers: CustomerFigures
    costs: CostFigures
    cache: CacheFigures

"""What every selling service at the till is built with."""

from __future__ import annotations

from dataclasses import dataclass

from backend.campaigns.catalogue import Catalogue
from backend.sales.customers import CustomerResolver
from realtime.publisher import EventPublisher


@dataclass(frozen=True, kw_only=True)
class SellingService:
    """The customer resolver, event publisher and campaign catalogue a sale works with."""

    customers: CustomerResolver
    publisher: EventPublisher
    catalogue: Catalogue

"""What every selling service at the till is built with."""

from __future__ import annotations

from backend.campaigns.catalogue import Catalogue
from backend.sales.customers import CustomerResolver
from realtime.publisher import EventPublisher


class SellingService:
    """The customer resolver, event publisher and campaign catalogue a sale works with."""

    def __init__(
        self, *, customers: CustomerResolver, publisher: EventPublisher, catalogue: Catalogue
    ) -> None:
        self._customers = customers
        self._publisher = publisher
        self._catalogue = catalogue

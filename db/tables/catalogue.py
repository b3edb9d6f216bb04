"""The product catalogue: what a SKU on a receipt is called and which category it is in.

Optional: a sale names its items itself (``backend.sales.schemas.PurchaseItem``), and the
catalogue only gives the console names and choices. Admins replace it whole from a CSV file
(``backend.products``)."""

from __future__ import annotations

from piccolo.columns import Varchar
from piccolo.table import Table


class Product(Table, tablename="product"):
    sku = Varchar(length=200, primary_key=True, help_text="The till's code for the product.")
    name = Varchar(length=200, help_text="What the product is called (e.g. «Круассан»).")
    category = Varchar(length=200, help_text="The category campaigns and exclusions name.")

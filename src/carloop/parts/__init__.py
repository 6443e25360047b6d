"""carloop parts supply chain: catalog and VIN fitment, suppliers, warehouses, B2B orders, store stock and replenishment (issue 17)."""

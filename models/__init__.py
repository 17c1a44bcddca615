"""The canonical finance data model (pydantic v2, frozen records, Decimal money with an ISO 4217 currency)."""

"""carloop after-sales: store network, service prices, booking, work orders, records and reminders (issue 16)."""

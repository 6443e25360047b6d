"""carloop e-card wallet: card products, named and bearer cards, spend as a cashier tender, merchant POS, coupons and points, MOFCOM rules (issue 14)."""

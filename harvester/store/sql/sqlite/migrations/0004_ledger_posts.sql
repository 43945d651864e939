-- Posts per charge (cap-counted reads), so the cap can be rebuilt from the ledger like money.
ALTER TABLE ledger ADD COLUMN posts INTEGER NOT NULL DEFAULT 0;

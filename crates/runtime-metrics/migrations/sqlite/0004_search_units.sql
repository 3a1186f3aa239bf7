-- Search units billed by rerank calls (Cohere, Bedrock); 0 for token-billed operations.
ALTER TABLE usage_records ADD COLUMN search_units INTEGER NOT NULL DEFAULT 0;

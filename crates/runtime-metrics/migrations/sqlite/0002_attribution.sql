-- Who a request was for: the team of its key and the end user it named.
ALTER TABLE usage_records ADD COLUMN team_id TEXT;
ALTER TABLE usage_records ADD COLUMN end_user TEXT;

-- When a share's coming expiry was noticed (ShareExpiring), so the sweeper looks for it
-- once.
ALTER TABLE shares ADD COLUMN noticed_at timestamptz;

-- The users view learns of profile photos: the SHA-256 (hex) of the sealed blob, so the
-- API can say whether there is one (photoUrl) without reading the blob store.
ALTER TABLE users ADD COLUMN photo_sha256 text;

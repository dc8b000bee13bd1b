-- Care between doctors (issue 24): records doctors add, referrals, emergency access.

-- The doctor who added a record to the patient's file; NULL when the owner uploaded it.
ALTER TABLE records ADD COLUMN author_id uuid;
-- The referral whose approval made the share, if one did.
ALTER TABLE shares ADD COLUMN referral_id uuid;
-- The emergency access a read was made under (action EMERGENCY).
ALTER TABLE access_log ADD COLUMN emergency_id uuid;
CREATE INDEX access_log_by_emergency ON access_log (emergency_id) WHERE emergency_id IS NOT NULL;

-- Referrals (projector `records`): one row per request, with its decision. The note
-- stays sealed under the record's data key.
CREATE TABLE referrals (
    id            uuid        PRIMARY KEY,
    record_id     uuid        NOT NULL,
    owner_id      uuid        NOT NULL,
    from_id       uuid        NOT NULL,
    to_id         uuid        NOT NULL,
    note          text,
    status        text        NOT NULL,
    requested_at  timestamptz NOT NULL,
    requested_seq bigint      NOT NULL,
    decided_at    timestamptz,
    share_id      uuid,
    updated_seq   bigint      NOT NULL
);
CREATE INDEX referrals_by_owner ON referrals (owner_id, requested_seq DESC);
CREATE INDEX referrals_by_from ON referrals (from_id, requested_seq DESC);
CREATE INDEX referrals_by_to ON referrals (to_id, requested_seq DESC);
CREATE INDEX referrals_by_record ON referrals (record_id);

-- Emergency accesses (projector `emergency`): one row per access ever opened. The
-- reason and the review's note stay sealed under the patient's key.
CREATE TABLE emergency_accesses (
    id           uuid        PRIMARY KEY,
    doctor_id    uuid        NOT NULL,
    patient_id   uuid        NOT NULL,
    reason       text        NOT NULL,
    opened_at    timestamptz NOT NULL,
    opened_seq   bigint      NOT NULL,
    expires_at   timestamptz NOT NULL,
    closed_at    timestamptz,
    expired_at   timestamptz,
    reviewed_by  uuid,
    reviewed_at  timestamptz,
    justified    boolean,
    review_note  text,
    updated_seq  bigint      NOT NULL
);
CREATE INDEX emergency_by_doctor ON emergency_accesses (doctor_id, opened_seq DESC);
CREATE INDEX emergency_by_patient ON emergency_accesses (patient_id, opened_seq DESC);
CREATE INDEX emergency_unreviewed ON emergency_accesses (opened_seq DESC) WHERE reviewed_at IS NULL;
CREATE INDEX emergency_due ON emergency_accesses (expires_at)
    WHERE closed_at IS NULL AND expired_at IS NULL;

-- Share links (issue 25). The tokens an open hands out: operational state like
-- sessions, stored only as SHA-256 hashes; each names the grant its open recorded on the
-- link's stream, which alone decides whether it still reads.
CREATE TABLE link_tokens (
    token_hash  bytea       PRIMARY KEY,
    link_id     uuid        NOT NULL,
    grant_id    uuid        NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX link_tokens_by_expiry ON link_tokens (expires_at);

-- Share links (projector `links`): one row per link, what it names and how it stands.
CREATE TABLE share_links (
    id           uuid        PRIMARY KEY,
    owner_id     uuid        NOT NULL,
    records      uuid[]      NOT NULL,
    created_at   timestamptz NOT NULL,
    created_seq  bigint      NOT NULL,
    expires_at   timestamptz NOT NULL,
    max_opens    integer,
    opens        integer     NOT NULL,
    wrong        integer     NOT NULL,
    locked_at    timestamptz,
    revoked_at   timestamptz,
    updated_seq  bigint      NOT NULL
);
CREATE INDEX share_links_by_owner ON share_links (owner_id, created_seq DESC);

-- A share link's opening is an entry in the access log of each record it names: one
-- event, several rows, so a row is keyed by its event and its record.
ALTER TABLE access_log DROP CONSTRAINT access_log_pkey;
ALTER TABLE access_log ADD PRIMARY KEY (seq, record_id);

-- Proxy invitations (issue 25): the mailed token's hash, with the grant it redeems.
-- Operational state like password resets; the grant itself is on the ledger.
CREATE TABLE proxy_invitations (
    token_hash  bytea       PRIMARY KEY,
    patient_id  uuid        NOT NULL,
    grant_id    uuid        NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

-- Proxy grants (projector `proxies`): one row per grant; the address stays sealed.
CREATE TABLE proxy_grants (
    id           uuid        PRIMARY KEY,
    patient_id   uuid        NOT NULL,
    email        text        NOT NULL,
    scope        text        NOT NULL,
    records      uuid[],
    granted_at   timestamptz NOT NULL,
    granted_seq  bigint      NOT NULL,
    expires_at   timestamptz,
    proxy_id     uuid,
    accepted_at  timestamptz,
    revoked_at   timestamptz,
    updated_seq  bigint      NOT NULL
);
CREATE INDEX proxy_grants_by_patient ON proxy_grants (patient_id, granted_seq DESC);
CREATE INDEX proxy_grants_by_proxy ON proxy_grants (proxy_id) WHERE proxy_id IS NOT NULL;

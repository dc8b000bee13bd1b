-- The notifications view (projector `notifications`): one row per notification, its id
-- derived from (seq, recipient, kind) so a replay writes the same rows. Messages are not
-- stored: they are composed when read, from what the reader may see then.
CREATE TABLE notifications (
    id         uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL,
    kind       text        NOT NULL,
    seq        bigint      NOT NULL,
    record_id  uuid,
    -- the other person it is about (who shared, who read, who registered …)
    subject_id uuid,
    -- APPROVED / REJECTED for a decided profile change
    detail     text,
    created_at timestamptz NOT NULL,
    -- seq of the NotificationsRead event that marked it; NULL while unread
    read_seq   bigint
);
CREATE INDEX notifications_by_user ON notifications (user_id, seq DESC);
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read_seq IS NULL;

-- What the projector needs to know to address notifications, kept from the ledger too.
CREATE TABLE notification_preferences (
    user_id uuid    NOT NULL,
    kind    text    NOT NULL,
    in_app  boolean NOT NULL,
    email   boolean NOT NULL,
    PRIMARY KEY (user_id, kind)
);
CREATE TABLE notification_admins (
    user_id uuid PRIMARY KEY
);
CREATE TABLE notification_records (
    record_id uuid PRIMARY KEY,
    owner_id  uuid NOT NULL
);
CREATE TABLE notification_shares (
    share_id  uuid PRIMARY KEY,
    record_id uuid NOT NULL,
    doctor_id uuid NOT NULL
);

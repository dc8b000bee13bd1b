-- Mail for notifications, by the recipient's e-mail preference. The notifications
-- projector writes a row in the same transaction as the notification, keyed by the
-- notification's id (derived from the event), so a replay or a rebuild writes nothing
-- twice: this table is not the projector's and is never rebuilt. A worker in each server
-- process claims a row (PENDING → SENDING, one statement, so one process gets it), sends,
-- and marks it SENT, or PENDING again with a later attempt when the server refused it
-- for now; a crash while SENDING leaves it there: mailed at most once.
CREATE TABLE mail_outbox (
    notification_id uuid        PRIMARY KEY,
    user_id         uuid        NOT NULL,
    kind            text        NOT NULL,
    seq             bigint      NOT NULL,
    status          text        NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'SENDING', 'SENT', 'DROPPED', 'FAILED')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE status = 'PENDING';

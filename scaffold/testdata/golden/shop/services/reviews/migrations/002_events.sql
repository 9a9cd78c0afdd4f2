-- Events (platform/messaging): the outbox holds the events this service
-- publishes until the broker acknowledged them (then the relay deletes
-- them); a row the broker keeps refusing moves to outbox_dead. The inbox
-- records the events this service handled, so that a redelivery is not
-- applied twice; the consumer prunes it by age.
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY,
    id         TEXT      NOT NULL,
    subject    TEXT      NOT NULL,
    payload    BLOB      NOT NULL,
    headers    TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    attempts   INTEGER   NOT NULL DEFAULT 0
);
CREATE TABLE outbox_dead (
    seq        INTEGER   PRIMARY KEY,
    id         TEXT      NOT NULL,
    subject    TEXT      NOT NULL,
    payload    BLOB      NOT NULL,
    headers    TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    attempts   INTEGER   NOT NULL,
    error      TEXT      NOT NULL,
    failed_at  TIMESTAMP NOT NULL
);
CREATE TABLE inbox (
    event_id   TEXT      PRIMARY KEY,
    type       TEXT      NOT NULL,
    source     TEXT      NOT NULL,
    handled_at TIMESTAMP NOT NULL
) WITHOUT ROWID;
CREATE INDEX inbox_handled_at ON inbox (handled_at);

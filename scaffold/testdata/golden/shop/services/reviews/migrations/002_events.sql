-- Events (platform/messaging): the outbox holds the events this service
-- publishes until the broker acknowledged them (then the relay deletes
-- them); a row the broker keeps refusing moves to outbox_dead. The inbox
-- records the events this service handled, so that a redelivery is not
-- applied twice; the consumer prunes it by age.
--
-- An event about one item carries the item's key and a number from
-- outbox_keys, taken in the transaction that adds it; the subscriber's
-- inbox_keys holds the number of the last event of each key it applied,
-- and applies the next ones in order (platform/messaging/inbox.go).
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY,
    id         TEXT      NOT NULL,
    subject    TEXT      NOT NULL,
    payload    BLOB      NOT NULL,
    headers    TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    attempts   INTEGER   NOT NULL DEFAULT 0,
    ordering_key TEXT,
    key_seq      INTEGER,
    key_prev     TEXT
);
-- Per key: how many events it had, the number of its latest event of
-- each type (JSON), and those numbers before its latest event.
CREATE TABLE outbox_keys (
    ordering_key TEXT    PRIMARY KEY,
    seq          INTEGER NOT NULL,
    types        TEXT    NOT NULL,
    prev         TEXT    NOT NULL
) WITHOUT ROWID;
CREATE TABLE outbox_dead (
    seq        INTEGER   PRIMARY KEY,
    id         TEXT      NOT NULL,
    subject    TEXT      NOT NULL,
    payload    BLOB      NOT NULL,
    headers    TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    attempts   INTEGER   NOT NULL,
    error      TEXT      NOT NULL,
    failed_at  TIMESTAMP NOT NULL,
    ordering_key TEXT,
    key_seq      INTEGER,
    key_prev     TEXT
);
CREATE TABLE inbox (
    event_id   TEXT      PRIMARY KEY,
    type       TEXT      NOT NULL,
    source     TEXT      NOT NULL,
    handled_at TIMESTAMP NOT NULL
) WITHOUT ROWID;
CREATE INDEX inbox_handled_at ON inbox (handled_at);
CREATE TABLE inbox_keys (
    source       TEXT      NOT NULL,
    ordering_key TEXT      NOT NULL,
    seq          INTEGER   NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (source, ordering_key)
) WITHOUT ROWID;
CREATE INDEX inbox_keys_updated_at ON inbox_keys (updated_at);

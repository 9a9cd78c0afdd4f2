-- The sample resource of payments. Applied once at start-up; to change the
-- schema later, add 002_....sql rather than editing this file.
CREATE TABLE items (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The sample resource of reviews. Applied once at start-up; to change the
-- schema later, add 002_....sql rather than editing this file.
CREATE TABLE items (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- What the admin API needs: each request's attempt trail (a short JSON list, no prompts) and
-- the audit log of admin changes (who, what, when; the detail never holds a secret).
ALTER TABLE requests ADD COLUMN trail TEXT;

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_time ON audit (time);

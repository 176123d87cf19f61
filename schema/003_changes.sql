-- 003: the change log.
--
-- Every insert, update or delete of a product appends one row, so any
-- connection (in any process) can ask "what changed since sequence N?"
-- (pw_catalog_changes_since). AUTOINCREMENT keeps sequence numbers rising
-- even after old rows are pruned; the importer keeps only the newest rows
-- (CATALOG_CHANGES_KEEP in catalog/catalog-int.h). `changed_at` is UTC with
-- milliseconds.
--
-- SPDX-License-Identifier: MIT

CREATE TABLE product_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id TEXT NOT NULL,
    changed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TRIGGER products_log_insert AFTER INSERT ON products BEGIN
    INSERT INTO product_changes (product_id) VALUES (new.id);
END;

CREATE TRIGGER products_log_update AFTER UPDATE ON products BEGIN
    INSERT INTO product_changes (product_id) VALUES (new.id);
END;

CREATE TRIGGER products_log_delete AFTER DELETE ON products BEGIN
    INSERT INTO product_changes (product_id) VALUES (old.id);
END;

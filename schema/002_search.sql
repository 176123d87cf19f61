-- 002: full-text search over products, and the key that signs search cursors.
--
-- products_fts is an external-content FTS5 table: it stores only the index,
-- and reads column text back from `products` by rowid (= products.pk). The
-- triggers below keep it in step with every insert, update and delete; an
-- update that touches none of the indexed columns (stock, price) leaves the
-- index alone. The column order is fixed: bm25() weights in catalog/search.c
-- are given in this order (name, brand, category, description, tags).
--
-- Tokenizer: porter stemming over unicode61 with diacritics removed, so
-- "laptops" finds "laptop" and "cafe" finds "café".
--
-- The 'rebuild' at the end indexes rows that a version-1 database already
-- holds when it is upgraded in place.
--
-- SPDX-License-Identifier: MIT

CREATE VIRTUAL TABLE products_fts USING fts5(
    name, brand, category, description, tags,
    content = 'products', content_rowid = 'pk',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, name, brand, category, description, tags)
    VALUES (new.pk, new.name, new.brand, new.category, new.description, new.tags);
END;

CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, brand, category, description, tags)
    VALUES ('delete', old.pk, old.name, old.brand, old.category, old.description, old.tags);
END;

CREATE TRIGGER products_fts_update
AFTER UPDATE OF name, brand, category, description, tags ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, brand, category, description, tags)
    VALUES ('delete', old.pk, old.name, old.brand, old.category, old.description, old.tags);
    INSERT INTO products_fts (rowid, name, brand, category, description, tags)
    VALUES (new.pk, new.name, new.brand, new.category, new.description, new.tags);
END;

INSERT INTO products_fts (products_fts) VALUES ('rebuild');

-- Small settings that belong to this database rather than to a process.
-- cursor_key signs pagination cursors (catalog/cursor.c), so a cursor made
-- by any process on this file is accepted by every other one, and a forged
-- or edited one is not.
CREATE TABLE catalog_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO catalog_meta (key, value) VALUES ('cursor_key', lower(hex(randomblob(32))));

-- 001: the products table.
--
-- One row per product. `pk` is the integer key the FTS index (002) needs
-- for its external content; `id` is the product's public identifier (text,
-- as given by the source catalog). Money is in integer minor units of
-- `currency` (999 USD = 9.99 USD), never a float. `tags` is a JSON array of
-- strings and `attributes` a JSON object, both stored as text. `stock` and
-- `rating` may be NULL when the source did not say. `updated_at` is UTC,
-- "YYYY-MM-DDTHH:MM:SSZ".
--
-- SPDX-License-Identifier: MIT

CREATE TABLE products (
    pk           INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    sku          TEXT,
    name         TEXT NOT NULL,
    brand        TEXT,
    category     TEXT NOT NULL,
    price_minor  INTEGER NOT NULL CHECK (price_minor >= 0),
    currency     TEXT NOT NULL DEFAULT 'USD',
    availability TEXT NOT NULL
                 CHECK (availability IN ('in-stock', 'limited', 'out-of-stock')),
    stock        INTEGER CHECK (stock IS NULL OR stock >= 0),
    rating       REAL CHECK (rating IS NULL OR (rating >= 0 AND rating <= 5)),
    description  TEXT NOT NULL DEFAULT '',
    tags         TEXT NOT NULL DEFAULT '[]',
    attributes   TEXT NOT NULL DEFAULT '{}',
    updated_at   TEXT NOT NULL
);

-- Filters are exact but case-insensitive, so their indexes are NOCASE too.
CREATE INDEX products_category ON products (category COLLATE NOCASE, price_minor);
CREATE INDEX products_brand ON products (brand COLLATE NOCASE);
CREATE INDEX products_price ON products (price_minor);
CREATE INDEX products_rating ON products (rating);
CREATE INDEX products_name ON products (name COLLATE NOCASE);

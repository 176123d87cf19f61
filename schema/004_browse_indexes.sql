-- 004: indexes for browsing a brand or a category in any order.
--
-- A search without text walks an index in the requested order and stops
-- after one page (catalog/search.c). Version 1 had (category, price) only,
-- so "a brand by name" or "a category by rating" sorted every product of
-- the brand or category: tens of milliseconds on a million products.
-- Each index ends with the sort key; rowid (pk) follows implicitly, which
-- is the tie-break search.c uses, so no sort step is left at all.
--
-- SPDX-License-Identifier: MIT

DROP INDEX IF EXISTS products_brand;
CREATE INDEX products_brand ON products (brand COLLATE NOCASE, name COLLATE NOCASE);
CREATE INDEX products_brand_price ON products (brand COLLATE NOCASE, price_minor);
CREATE INDEX products_category_name ON products (category COLLATE NOCASE, name COLLATE NOCASE);
CREATE INDEX products_category_rating ON products (category COLLATE NOCASE, rating);

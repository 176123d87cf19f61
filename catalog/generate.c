/*
 * The synthetic catalog generator, for benchmarks and load tests.
 *
 * Writes N products as JSON Lines in the seed schema (productId, sku, name,
 * brand, category, price in major units, currency, availability, stock,
 * rating, description, tags), ready for pw_catalog_import(). Output depends
 * only on (N, seed): a splitmix64 stream drives every choice, so the same
 * arguments give the same bytes on every machine.
 *
 * Products look like a shop's: each category has its own brands, product
 * nouns, price range and selling points; names combine brand, a modifier,
 * the noun and a model number ("Nordvik Compact Espresso Machine EM-240");
 * descriptions are two sentences built from the same parts, so full-text
 * search over them behaves like search over real listings (common words are
 * common, model numbers rare).
 *
 * Every random choice is made in its own statement, in a fixed order (never
 * inside one call's argument list, whose evaluation order C leaves open).
 *
 * Streams: one line is formatted into a stack buffer and written; memory
 * use is constant whatever N is. All vocabulary is plain ASCII with no
 * characters that JSON would need escaped.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

struct category {
    const char *name;
    const char *code;
    const char *brands[6];
    const char *nouns[8];
    const char *points[4]; /* "with ..." selling points */
    int64_t min_price, max_price; /* minor units */
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct category categories[] = {
    {"laptops", "LAP", {"Corvane", "Aperio", "Novatek", "Lumio", "Brightline", "Zentro"},
     {"Laptop", "Ultrabook", "Notebook", "Gaming Laptop", "Chromebook", "2-in-1 Laptop",
      "Workstation Laptop", "Netbook"},
     {"a backlit keyboard", "all-day battery life", "a bright IPS display", "fast SSD storage"},
     29900, 349900},
    {"smartphones", "PHN", {"Aperio", "Kestrel", "Novatek", "Orbis", "Zentro", "Pulse"},
     {"Smartphone", "Phone", "Flip Phone", "Rugged Phone", "Camera Phone", "Mini Phone",
      "Phablet", "5G Phone"},
     {"a triple camera", "fast charging", "an OLED screen", "dual SIM support"},
     9900, 149900},
    {"audio", "AUD", {"Sonera", "Kestrel", "Bassline", "Echoic", "Orbis", "Lumio"},
     {"Headphones", "Earbuds", "Bluetooth Speaker", "Soundbar", "Turntable", "Microphone",
      "Noise Cancelling Headphones", "Smart Speaker"},
     {"deep bass", "active noise cancelling", "a 30-hour battery", "multipoint pairing"},
     1999, 59900},
    {"kitchen", "KIT", {"Nordvik", "Casaluna", "Ferro", "Gusto", "Hearthwell", "Pimento"},
     {"Espresso Machine", "Blender", "Chef Knife", "Frying Pan", "Toaster", "Kettle",
      "Stand Mixer", "Air Fryer"},
     {"stainless steel parts", "a dishwasher-safe design", "precise temperature control",
      "a compact footprint"},
     999, 89900},
    {"furniture", "FUR", {"Nordvik", "Oakhaven", "Linnea", "Casaluna", "Timberly", "Arko"},
     {"Sofa", "Armchair", "Dining Table", "Bookshelf", "Office Chair", "Bed Frame",
      "Coffee Table", "Wardrobe"},
     {"solid oak legs", "stain-resistant fabric", "easy assembly", "a ten-year frame warranty"},
     4900, 299900},
    {"beauty", "BEA", {"Velvetta", "Lumina", "Rosalie", "Glowe", "Petalia", "Maison Ore"},
     {"Lipstick", "Mascara", "Foundation", "Eyeshadow Palette", "Nail Polish", "Blush",
      "Concealer", "Lip Gloss"},
     {"a long-lasting formula", "a cruelty-free formula", "rich pigment", "a matte finish"},
     499, 6900},
    {"fragrances", "FRA", {"Maison Ore", "Velvetta", "Aurelle", "Noctis", "Rosalie", "Ambra"},
     {"Eau de Parfum", "Eau de Toilette", "Perfume", "Cologne", "Body Mist", "Perfume Oil",
      "Travel Spray", "Gift Set"},
     {"notes of jasmine and amber", "a fresh citrus opening", "a warm vanilla base",
      "an elegant glass bottle"},
     1900, 24900},
    {"sports", "SPO", {"Stridex", "Peakform", "Velo", "Trailhawk", "Aqualine", "Kinetic"},
     {"Running Shoes", "Yoga Mat", "Tennis Racket", "Football", "Cycling Helmet",
      "Dumbbell Set", "Fitness Tracker", "Hiking Backpack"},
     {"breathable mesh", "a lightweight build", "extra grip", "a lifetime guarantee"},
     999, 39900},
    {"groceries", "GRO", {"Green Acre", "Harvest Lane", "Pimento", "Daily Fresh", "Gusto",
                          "Meadowfield"},
     {"Olive Oil", "Coffee Beans", "Green Tea", "Pasta", "Honey", "Dark Chocolate",
      "Granola", "Rice"},
     {"organic ingredients", "a resealable pack", "fair-trade sourcing", "no added sugar"},
     149, 3900},
    {"watches", "WAT", {"Chronova", "Aurelle", "Tempo", "Noctis", "Meridian", "Kestrel"},
     {"Dive Watch", "Chronograph", "Smartwatch", "Dress Watch", "Field Watch", "Pilot Watch",
      "Automatic Watch", "Digital Watch"},
     {"sapphire crystal", "water resistance to 100 m", "a leather strap", "an automatic movement"},
     2900, 499900},
    {"home-decoration", "HOM", {"Linnea", "Casaluna", "Oakhaven", "Lumio", "Arko", "Petalia"},
     {"Table Lamp", "Wall Mirror", "Throw Pillow", "Vase", "Wall Clock", "Area Rug",
      "Photo Frame", "Scented Candle"},
     {"hand-finished details", "a warm glow", "natural materials", "a minimalist look"},
     799, 49900},
    {"womens-bags", "BAG", {"Maison Ore", "Velvetta", "Linnea", "Ambra", "Rosalie", "Arko"},
     {"Handbag", "Tote Bag", "Crossbody Bag", "Backpack", "Clutch", "Shoulder Bag",
      "Laptop Bag", "Wallet"},
     {"genuine leather", "a zip-top closure", "an adjustable strap", "many inner pockets"},
     1900, 89900},
};

static const char *const modifiers[] = {
    "Pro", "Classic", "Compact", "Deluxe", "Essential", "Ultra", "Lite", "Premium",
    "Signature", "Everyday", "Travel", "Max",
};

static const char *const colors[] = {
    "Black", "White", "Silver", "Red", "Blue", "Green", "Graphite", "Rose", "Navy", "Sand",
};

static const char *const openers[] = {
    "is a dependable choice for everyday use",
    "is designed for people who want quality without fuss",
    "brings premium features at a fair price",
    "is one of our best sellers",
    "is built to last",
    "combines clean design with practical features",
};

static const char *const closers[] = {
    "It comes with a one-year warranty.",
    "Free shipping on orders over 50 USD.",
    "Available while stocks last.",
    "A great gift idea.",
    "Rated highly by our customers.",
    "Easy returns within 30 days.",
};

/* splitmix64: tiny, fast, and good enough for test data. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static size_t pick(uint64_t *s, size_t n) { return (size_t)(next(s) % n); }

/* A uniform double in [0, 1). */
static double unit(uint64_t *s) { return (double)(next(s) >> 11) / 9007199254740992.0; }

static void lower_into(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] - 'A' + 'a') : src[i];
    dst[i] = '\0';
}

/* A shop-like price: log-uniform in the category's range, ending in .99,
 * .49 or .00 (whole units for the dearest items). */
static int64_t price(uint64_t *s, const struct category *c)
{
    double lo = (double)c->min_price, hi = (double)c->max_price;
    double v = lo * pow(hi / lo, unit(s));
    int64_t whole = (int64_t)(v / 100.0);
    static const int cents[] = {99, 99, 99, 49, 0};
    int64_t p = whole * 100 + cents[pick(s, N(cents))];
    return p < c->min_price ? c->min_price : p;
}

static int line(char *buf, size_t n, size_t i, uint64_t *s)
{
    const struct category *c = &categories[pick(s, N(categories))];
    const char *brand = c->brands[pick(s, N(c->brands))];
    const char *noun = c->nouns[pick(s, N(c->nouns))];
    const char *modifier = modifiers[pick(s, N(modifiers))];
    const char *color = colors[pick(s, N(colors))];
    size_t k = pick(s, N(c->points));
    const char *point1 = c->points[k];
    const char *point2 = c->points[(k + 1 + pick(s, N(c->points) - 1)) % N(c->points)];
    const char *opener = openers[pick(s, N(openers))];
    const char *closer = closers[pick(s, N(closers))];
    unsigned model = 100 + (unsigned)pick(s, 900);
    char noun_lc[64], color_lc[16], model_code[8], sku_brand[4];
    lower_into(noun_lc, sizeof noun_lc, noun);
    lower_into(color_lc, sizeof color_lc, color);
    snprintf(model_code, sizeof model_code, "%c%c", brand[0], noun[0]);
    size_t nb = 0;
    for (const char *b = brand; *b && nb < 3; b++)
        if (*b != ' ')
            sku_brand[nb++] = (*b >= 'a' && *b <= 'z') ? (char)(*b - 'a' + 'A') : *b;
    sku_brand[nb] = '\0';

    int64_t p = price(s, c);
    uint64_t roll = next(s) % 100;
    int64_t stock = roll < 3 ? 0 : roll < 10 ? 1 + (int64_t)pick(s, 5) : 6 + (int64_t)pick(s, 495);
    double rating = 2.0 + 3.0 * (1.0 - unit(s) * unit(s)); /* skewed towards 5 */
    char amount[32];
    catalog_format_decimal(p, 2, amount, sizeof amount);

    return snprintf(buf, n,
                    "{\"productId\":\"GEN-%08zu\",\"sku\":\"%s-%s-%08zu\","
                    "\"name\":\"%s %s %s %s-%u\",\"brand\":\"%s\",\"category\":\"%s\","
                    "\"price\":%s,\"currency\":\"USD\",\"availability\":\"%s\","
                    "\"stock\":%" PRId64 ",\"rating\":%.2f,"
                    "\"description\":\"The %s %s %s. This %s %s comes with %s and %s. %s\","
                    "\"tags\":[\"%s\",\"%s\",\"%s\"]}\n",
                    i, c->code, sku_brand, i, brand, modifier, noun, model_code, model, brand,
                    c->name, amount, catalog_availability_from_stock(stock), stock, rating,
                    brand, noun, opener, color_lc, noun_lc, point1, point2, closer, c->name,
                    noun_lc, color_lc);
}

enum pw_err pw_catalog_generate(FILE *out, size_t n, uint64_t seed,
                                pw_catalog_progress_fn progress, void *ud,
                                struct pw_error *err)
{
    uint64_t state = seed;
    char buf[1024];
    struct pw_catalog_progress at = {.rows_total = n};
    for (size_t i = 1; i <= n; i++) {
        int len = line(buf, sizeof buf, i, &state);
        if (len < 0 || (size_t)len >= sizeof buf)
            return pw_error_set(err, PW_ERR_INTERNAL, NULL, "generated line too long");
        if (fwrite(buf, 1, (size_t)len, out) != (size_t)len)
            return pw_error_set(err, PW_ERR_IO, NULL, "write failed");
        if (progress && i % CATALOG_PROGRESS_ROWS == 0) {
            at.rows = i;
            progress(ud, &at);
        }
    }
    if (fflush(out) != 0)
        return pw_error_set(err, PW_ERR_IO, NULL, "write failed");
    if (progress) {
        at.rows = n;
        progress(ud, &at);
    }
    return PW_OK;
}

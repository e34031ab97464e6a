/* Tests for the CLIP tokenizer: every case of the shared reference ids, SD 2.x
 * padding, clean-up rules (HTML, quotes, NFC, case, whitespace), truncation,
 * bad prompts, and broken tokenizer folders with their error messages. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "rv_test.h"
#include "models/tokenizer.h"

#define L RV_TOKENIZER_MAX_LENGTH

static char tmpdir[64];

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = 0;
    fclose(f);
    return b;
}

/* ids of a prompt; -1 filled on failure */
static int enc(rv_tokenizer *tok, const char *p, int32_t ids[L])
{
    int n = -1;
    rv_error err = {0};
    if (rv_tokenizer_encode(tok, p, ids, &n, &err) != RV_OK) {
        fprintf(stderr, "encode failed: %s\n", err.msg);
        for (int i = 0; i < L; i++)
            ids[i] = -1;
    }
    return n;
}

static bool same_ids(rv_tokenizer *tok, const char *a, const char *b)
{
    int32_t x[L], y[L];
    enc(tok, a, x);
    enc(tok, b, y);
    return memcmp(x, y, sizeof x) == 0 && x[0] != -1;
}

static void test_reference_cases(rv_tokenizer *tok)
{
    char path[512];
    char *text = slurp(rv_test_shared("models/sd15/tokenizer-tests.json", path, sizeof path));
    CHECK(text != NULL, "read %s", path);
    if (!text)
        return;
    cJSON *root = cJSON_Parse(text);
    CHECK(root != NULL, "parse tokenizer-tests.json");
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    int pad = cJSON_GetObjectItemCaseSensitive(root, "pad_token_id")->valueint;
    CHECK(rv_tokenizer_pad_id(tok) == pad, "sd15 pad id %d", rv_tokenizer_pad_id(tok));
    CHECK(rv_tokenizer_bos_id(tok) == cJSON_GetObjectItemCaseSensitive(root, "bos_token_id")->valueint,
          "bos id");
    CHECK(rv_tokenizer_eos_id(tok) == cJSON_GetObjectItemCaseSensitive(root, "eos_token_id")->valueint,
          "eos id");
    int count = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *prompt = cJSON_GetObjectItemCaseSensitive(c, "prompt")->valuestring;
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(c, "ids");
        int32_t got[L];
        int n = enc(tok, prompt, got);
        CHECK(cJSON_GetArraySize(ids) == L, "case has 77 ids");
        int first_bad = -1;
        for (int i = 0; i < L && first_bad < 0; i++)
            if (got[i] != cJSON_GetArrayItem(ids, i)->valueint)
                first_bad = i;
        CHECK(first_bad < 0, "prompt '%s': id %d is %d, reference %d", prompt, first_bad,
              first_bad >= 0 ? got[first_bad] : 0,
              first_bad >= 0 ? cJSON_GetArrayItem(ids, first_bad)->valueint : 0);
        /* n_tokens: where EOS sits, or more than 77 when truncated. */
        int eos_at = 1;
        while (eos_at < L && got[eos_at] != rv_tokenizer_eos_id(tok))
            eos_at++;
        CHECK(n >= eos_at + 1 && (n == eos_at + 1 || (n > L && eos_at == L - 1)),
              "prompt '%s': n_tokens %d, EOS at %d", prompt, n, eos_at);
        count++;
    }
    CHECK(count >= 12, "ran %d reference cases", count);
    cJSON_Delete(root);
    free(text);
}

static void test_rules(rv_tokenizer *tok)
{
    int32_t ids[L];
    int32_t bos = rv_tokenizer_bos_id(tok), eos = rv_tokenizer_eos_id(tok), pad = rv_tokenizer_pad_id(tok);

    /* Empty prompt and whitespace-only prompts. */
    int n = enc(tok, "", ids);
    CHECK(n == 2 && ids[0] == bos && ids[1] == eos && ids[2] == pad && ids[L - 1] == pad,
          "empty prompt: n %d", n);
    CHECK(same_ids(tok, "", " \t\n\r\v\f \xc2\xa0\xe3\x80\x80 "), "whitespace-only == empty");
    CHECK(same_ids(tok, "a photograph", "  a \t\n\n   photograph   "), "runs of whitespace");
    CHECK(same_ids(tok, "a photograph", "A PhOtOgRaPh"), "lower-casing");

    /* Known single tokens (ids read from the vocabulary, not guessed). */
    int32_t a = rv_tokenizer_token_id(tok, "a</w>");
    CHECK(a == 320, "'a</w>' is 320: %d", a);
    CHECK(rv_tokenizer_token_id(tok, "!") == 0 && rv_tokenizer_token(tok, 0) &&
              strcmp(rv_tokenizer_token(tok, 0), "!") == 0,
          "'!' is id 0");
    CHECK(rv_tokenizer_token_id(tok, "no such token") == -1 && rv_tokenizer_token(tok, 1 << 20) == NULL,
          "lookups miss cleanly");
    CHECK(rv_tokenizer_vocab_size(tok) == 49408, "vocab size %d", rv_tokenizer_vocab_size(tok));

    /* Truncation: BOS + 75 tokens + EOS, n_tokens counts them all. */
    char longp[512] = "";
    for (int i = 0; i < 100; i++)
        strcat(longp, "a ");
    n = enc(tok, longp, ids);
    bool all_a = true;
    for (int i = 1; i <= 75; i++)
        all_a = all_a && ids[i] == a;
    CHECK(n == 102 && ids[0] == bos && all_a && ids[76] == eos, "100 tokens truncated: n %d", n);
    longp[0] = 0;
    for (int i = 0; i < 75; i++)
        strcat(longp, "a ");
    n = enc(tok, longp, ids);
    CHECK(n == 77 && ids[75] == a && ids[76] == eos, "exactly 75 tokens fit: n %d", n);
    strcat(longp, "a");
    n = enc(tok, longp, ids);
    CHECK(n == 78 && ids[75] == a && ids[76] == eos, "76 tokens: one cut: n %d", n);

    /* Clean-up rules of the reference (ftfy subset, html.unescape twice). */
    CHECK(same_ids(tok, "fish & chips", "fish &amp; chips"), "&amp;");
    CHECK(same_ids(tok, "fish & chips", "fish &amp;amp; chips"), "unescaped twice");
    CHECK(!same_ids(tok, "fish & chips", "fish &amp;amp;amp; chips"), "but not three times");
    CHECK(same_ids(tok, "<b>", "&lt;b&gt;"), "&lt; &gt;");
    CHECK(same_ids(tok, "it's", "it&#39;s") && same_ids(tok, "it's", "it&#x27;s"), "numeric refs");
    CHECK(same_ids(tok, "fish & chips", "fish &amp chips"), "legacy entity without ';'");
    CHECK(same_ids(tok, "\xc2\xacit;", "&notit;"), "longest legacy prefix (&not + it;)");
    CHECK(same_ids(tok, "\xe2\x82\xac", "&#128;"), "&#128; is the euro sign (Windows-1252)");
    CHECK(same_ids(tok, "x \xef\xbf\xbd", "x &#0;"), "&#0; is U+FFFD");
    CHECK(same_ids(tok, "xy", "x&#1;y"), "&#1; is dropped");
    CHECK(same_ids(tok, "&unknownentity;", "&unknownentity;") &&
              !same_ids(tok, "&unknownentity;", "unknownentity;"),
          "unknown entity left alone");
    CHECK(same_ids(tok, "it's", "it\xe2\x80\x99s"), "curly apostrophe straightened");
    CHECK(same_ids(tok, "\"quoted\"", "\xe2\x80\x9cquoted\xe2\x80\x9d"), "curly double quotes");
    CHECK(same_ids(tok, "'quoted'", "\xc2\x91quoted\xc2\x92"), "C1 controls read as Windows-1252");
    CHECK(same_ids(tok, "fine fluffiest", "\xef\xac\x81ne \xef\xac\x82u\xef\xac\x83" "est"),
          "Latin ligatures");
    CHECK(same_ids(tok, "loud noises", "\xef\xbc\xac\xef\xbc\xaf\xef\xbc\xb5\xef\xbc\xa4\xe3\x80\x80"
                                        "noises"),
          "fullwidth forms and ideographic space");
    CHECK(same_ids(tok, "\xc3\xa9t\xc3\xa9", "e\xcc\x81te\xcc\x81"), "NFC");
    CHECK(same_ids(tok, "red text", "\x1b[31mred\x1b[0m text"), "terminal escapes removed");
    CHECK(same_ids(tok, "ab", "a\xef\xbb\xbf\x07" "b"), "BOM and control characters removed");
    CHECK(same_ids(tok, "a b", "a\xcd\x85" "b"), "U+0345 separates words, as in the reference");
    /* Python's str.lower(): final sigma and the two-code-point dotted I. */
    CHECK(same_ids(tok, "\xce\xbf\xce\xb4\xce\xbf\xcf\x82", "\xce\x9f\xce\x94\xce\x9f\xce\xa3"),
          "final sigma");
    CHECK(!same_ids(tok, "\xce\xbf\xce\xb4\xce\xbf\xcf\x83", "\xce\x9f\xce\x94\xce\x9f\xce\xa3"),
          "not the medial sigma at the end");
    CHECK(same_ids(tok, "\xcf\x83\xce\xb1", "\xce\xa3\xce\x91"), "medial sigma at the start");
    CHECK(same_ids(tok, "i\xcc\x87stanbul", "\xc4\xb0stanbul"), "U+0130 lowers to i + U+0307");

    /* Special token strings in the text map to their ids, as in the reference. */
    n = enc(tok, "a <|endoftext|> a", ids);
    CHECK(n == 5 && ids[1] == a && ids[2] == eos && ids[3] == a && ids[4] == eos,
          "literal <|endoftext|>");
    n = enc(tok, "<|StartOfText|>", ids);
    CHECK(n == 3 && ids[1] == bos, "literal <|startoftext|>, any case");

    /* Raw tokenize: count beyond the buffer. */
    int32_t raw[4];
    size_t cnt = 0;
    rv_error err = {0};
    CHECK(rv_tokenizer_tokenize(tok, "a a a a a a", raw, 4, &cnt, &err) == RV_OK && cnt == 6 &&
              raw[3] == a,
          "tokenize counts past cap: %zu", cnt);
    CHECK(rv_tokenizer_tokenize(tok, "", raw, 0, &cnt, &err) == RV_OK && cnt == 0, "tokenize empty");

    /* Decode (debugging aid). */
    const char *p = "a photograph of an astronaut riding a horse";
    enc(tok, p, ids);
    char *text = NULL;
    CHECK(rv_tokenizer_decode(tok, ids, L, true, &text, &err) == RV_OK && text &&
              strcmp(text, "a photograph of an astronaut riding a horse ") == 0,
          "decode: '%s'", text ? text : "(null)");
    free(text);
    text = NULL;
    CHECK(rv_tokenizer_decode(tok, ids, 2, false, &text, &err) == RV_OK &&
              strcmp(text, "<|startoftext|>a ") == 0,
          "decode keeps specials unless asked");
    free(text);
    enc(tok, "Привет, straße 😀", ids);
    text = NULL;
    CHECK(rv_tokenizer_decode(tok, ids, L, true, &text, &err) == RV_OK &&
              strcmp(text, "привет , straße 😀 ") == 0,
          "decode multi-byte: '%s'", text ? text : "(null)");
    free(text);
    int32_t bad[2] = {320, 99999};
    rv_error derr = {0};
    text = NULL;
    CHECK(rv_tokenizer_decode(tok, bad, 2, false, &text, &derr) == RV_ERR_INVALID && !text &&
              strstr(derr.msg, "99999"),
          "decode bad id: %s", derr.msg);
    int32_t partial[1] = {rv_tokenizer_token_id(tok, "\xc3\x83")}; /* byte 0xC3 alone */
    text = NULL;
    CHECK(partial[0] >= 0 && rv_tokenizer_decode(tok, partial, 1, false, &text, &err) == RV_OK &&
              strcmp(text, "\xef\xbf\xbd") == 0,
          "lone lead byte decodes to U+FFFD");
    free(text);

    /* Repeated prompts go through the cache and give the same ids. */
    int32_t again[L];
    enc(tok, p, ids);
    enc(tok, p, again);
    CHECK(memcmp(ids, again, sizeof ids) == 0, "cache is consistent");

    /* Bad prompts: clear errors, no crash. */
    struct {
        const char *label, *s, *sub;
    } badp[] = {
        {"invalid lead byte", "\xff" "abc", "offset 0"},
        {"truncated sequence", "abc\xc3", "offset 3"},
        {"overlong encoding", "ab\xc0\xaf", "offset 2"},
        {"UTF-16 surrogate", "a\xed\xa0\x80", "offset 1"},
        {"code point past U+10FFFF", "\xf4\x90\x80\x80", "offset 0"},
        {"stray continuation byte", "abc \x80", "offset 4"},
    };
    for (size_t i = 0; i < sizeof badp / sizeof badp[0]; i++) {
        rv_error e = {0};
        int32_t out[L];
        int nt = 0;
        rv_status s = rv_tokenizer_encode(tok, badp[i].s, out, &nt, &e);
        CHECK(s == RV_ERR_INVALID && strstr(e.msg, "UTF-8") && strstr(e.msg, badp[i].sub),
              "%s: %s / %s", badp[i].label, rv_status_name(s), e.msg);
    }
    size_t big = RV_TOKENIZER_MAX_INPUT + 1;
    char *huge = malloc(big + 1);
    memset(huge, 'a', big);
    huge[big] = 0;
    rv_error e = {0};
    CHECK(rv_tokenizer_encode(tok, huge, ids, &n, &e) == RV_ERR_INVALID && strstr(e.msg, "limit"),
          "oversized prompt refused: %s", e.msg);
    /* One very long word stays fast (BPE is O(n log n)) and exact in count. */
    huge[200000] = 0;
    rv_error e2 = {0};
    CHECK(rv_tokenizer_encode(tok, huge, ids, &n, &e2) == RV_OK && n > 77 && ids[76] == eos,
          "200k-letter word: %s", e2.msg);
    free(huge);
}

static void test_sd21(void)
{
    char path[512];
    rv_tokenizer *tok = NULL;
    rv_error err = {0};
    CHECK(rv_tokenizer_load(&tok, rv_test_shared("models/sd21-base/tokenizer", path, sizeof path),
                            &err) == RV_OK,
          "load sd21-base: %s", err.msg);
    if (!tok)
        return;
    CHECK(rv_tokenizer_pad_id(tok) == 0, "SD 2.x pads with '!' (0): %d", rv_tokenizer_pad_id(tok));
    int32_t ids[L];
    int n = enc(tok, "a photograph of an astronaut riding a horse", ids);
    static const int32_t head[10] = {49406, 320, 8853, 539, 550, 18376, 6765, 320, 4558, 49407};
    CHECK(n == 10 && memcmp(ids, head, sizeof head) == 0 && ids[10] == 0 && ids[L - 1] == 0,
          "sd21 ids then '!' padding");
    rv_tokenizer_unload(tok);
}

/* ---- broken folders ---- */

static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void drop(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    remove(path);
}

/* bytes_to_unicode() of the reference: printable bytes stand for themselves. */
static bool printable_byte(int b)
{
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
}

static int byte_cp(int b)
{
    int m = 0;
    for (int x = 0; x < b; x++)
        m += !printable_byte(x);
    return printable_byte(b) ? b : 256 + m;
}

/* A small byte-level vocabulary: the 256 byte symbols (ids 0..255), the same
 * with </w> (256..511), then he, ll, hell, hello</w>, <|startoftext|>,
 * <|endoftext|> (512..517), then `extra`. */
static char *tiny_vocab(const char *extra)
{
    size_t cap = 64 * 1024, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s + n, cap - n, "{");
    for (int eow = 0; eow < 2; eow++) {
        for (int b = 0; b < 256; b++) {
            int cp = byte_cp(b);
            char u[8] = {0};
            if (cp == '"' || cp == '\\') {
                u[0] = '\\';
                u[1] = (char)cp;
            } else if (cp < 0x80) {
                u[0] = (char)cp;
            } else {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
            }
            n += (size_t)snprintf(s + n, cap - n, "\"%s%s\":%d,", u, eow ? "</w>" : "",
                                  eow * 256 + b);
        }
    }
    n += (size_t)snprintf(s + n, cap - n,
                          "\"he\":512,\"ll\":513,\"hell\":514,\"hello</w>\":515,"
                          "\"<|startoftext|>\":516,\"<|endoftext|>\":517%s}",
                          extra);
    return s;
}

static const char *tiny_merges = "#version: 0.2\nh e\nl l\nhe ll\nhell o</w>\n";

static void expect_load_fail(const char *label, rv_status code, const char *sub1, const char *sub2)
{
    rv_tokenizer *tok = (rv_tokenizer *)1;
    rv_error err = {0};
    rv_status s = rv_tokenizer_load(&tok, tmpdir, &err);
    CHECK(s == code && tok == NULL, "%s: got %s: %s", label, rv_status_name(s), err.msg);
    CHECK(strstr(err.msg, sub1) != NULL, "%s: message lacks '%s': %s", label, sub1, err.msg);
    if (sub2)
        CHECK(strstr(err.msg, sub2) != NULL, "%s: message lacks '%s': %s", label, sub2, err.msg);
    if (s == RV_OK)
        rv_tokenizer_unload(tok);
}

static void test_folders(void)
{
    char *vocab = tiny_vocab("");
    put(tmpdir, "vocab.json", vocab);
    put(tmpdir, "merges.txt", tiny_merges);

    /* The tiny folder works, with ids that follow from its merges by hand. */
    rv_tokenizer *tok = NULL;
    rv_error err = {0};
    CHECK(rv_tokenizer_load(&tok, tmpdir, &err) == RV_OK, "tiny folder: %s", err.msg);
    if (tok) {
        int32_t ids[L];
        int n = enc(tok, "Hello hellx", ids);
        /* hello -> he l l o</w> -> he ll o</w> -> hell o</w> -> hello</w>;
         * hellx -> hell x</w>  ('x' is byte 0x78, so x</w> is 256 + 0x78) */
        CHECK(n == 5 && ids[0] == 516 && ids[1] == 515 && ids[2] == 514 && ids[3] == 256 + 'x' &&
                  ids[4] == 517 && ids[5] == 517,
              "tiny BPE: %d %d %d %d %d", ids[0], ids[1], ids[2], ids[3], ids[4]);
        n = enc(tok, "lll", ids);
        /* l l l</w>: "l l" merges the first pair, the last l</w> stays */
        CHECK(n == 4 && ids[1] == 513 && ids[2] == 256 + 'l', "left-to-right merging");
        rv_tokenizer_unload(tok);
    }

    put(tmpdir, "special_tokens_map.json", "{\"pad_token\": {\"content\": \"he\"}}");
    put(tmpdir, "tokenizer_config.json", "{\"pad_token\": \"ll\", \"bos_token\": \"ll\"}");
    tok = NULL;
    CHECK(rv_tokenizer_load(&tok, tmpdir, &err) == RV_OK && rv_tokenizer_pad_id(tok) == 512 &&
              rv_tokenizer_bos_id(tok) == 513,
          "special_tokens_map.json wins over tokenizer_config.json: %s", err.msg);
    rv_tokenizer_unload(tok);

    put(tmpdir, "special_tokens_map.json", "{\"pad_token\": \"<pad>\"}");
    expect_load_fail("pad token not in vocab", RV_ERR_FORMAT, "special_tokens_map.json", "'<pad>'");
    put(tmpdir, "special_tokens_map.json", "{\"pad_token\": ");
    expect_load_fail("special_tokens_map.json corrupt", RV_ERR_FORMAT, "special_tokens_map.json",
                     "line 1");
    drop(tmpdir, "special_tokens_map.json");
    put(tmpdir, "tokenizer_config.json", "[1]");
    expect_load_fail("tokenizer_config.json not an object", RV_ERR_FORMAT, "tokenizer_config.json",
                     NULL);
    drop(tmpdir, "tokenizer_config.json");

    put(tmpdir, "merges.txt", "#version: 0.2\nh e\nl\nhe ll\n");
    expect_load_fail("merges line with one symbol", RV_ERR_FORMAT, "merges.txt:3", "two symbols");
    put(tmpdir, "merges.txt", "#version: 0.2\nh e\n\nl l\n");
    expect_load_fail("merges empty line", RV_ERR_FORMAT, "merges.txt:3", "empty line");
    put(tmpdir, "merges.txt", "#version: 0.2\nh e\nl l x\n");
    expect_load_fail("merges three symbols", RV_ERR_FORMAT, "merges.txt:3", NULL);
    put(tmpdir, "merges.txt", "h e\nl l\n");
    expect_load_fail("merges without header", RV_ERR_FORMAT, "merges.txt:1", "#version");
    put(tmpdir, "merges.txt", "#version: 0.2\nh e\nq\xc3\xa9 z\n");
    expect_load_fail("merges symbol not in vocab", RV_ERR_FORMAT, "merges.txt:3", "'q\xc3\xa9'");
    put(tmpdir, "merges.txt", "#version: 0.2\nh e\nx y\n");
    expect_load_fail("merged token not in vocab", RV_ERR_FORMAT, "merges.txt:3", "'xy'");
    put(tmpdir, "merges.txt", "#version: 0.2\n");
    expect_load_fail("merges with no merges", RV_ERR_FORMAT, "merges.txt", "no merges");
    drop(tmpdir, "merges.txt");
    expect_load_fail("merges.txt missing", RV_ERR_IO, "merges.txt", "No such file");
    put(tmpdir, "merges.txt", "#version: 0.2\r\nh e\r\nl l\r\nhe ll\r\nhell o</w>\r\n\r\n");
    tok = NULL;
    CHECK(rv_tokenizer_load(&tok, tmpdir, &err) == RV_OK, "CRLF merges.txt: %s", err.msg);
    rv_tokenizer_unload(tok);

    put(tmpdir, "vocab.json", "{\"a\": 1,\n \"b\": }");
    expect_load_fail("vocab invalid JSON", RV_ERR_FORMAT, "vocab.json", "line 2");
    put(tmpdir, "vocab.json", "[\"a\"]");
    expect_load_fail("vocab not an object", RV_ERR_FORMAT, "vocab.json", "object");
    put(tmpdir, "vocab.json", "{\"a\": \"1\"}");
    expect_load_fail("vocab id not a number", RV_ERR_FORMAT, "vocab.json", "'a'");
    put(tmpdir, "vocab.json", "{\"a\": -3}");
    expect_load_fail("vocab negative id", RV_ERR_FORMAT, "vocab.json", "'a'");
    put(tmpdir, "vocab.json", "{\"a\": 1.5}");
    expect_load_fail("vocab fractional id", RV_ERR_FORMAT, "vocab.json", "'a'");
    put(tmpdir, "vocab.json", "{\"a\": 1, \"b\": 1}");
    expect_load_fail("vocab duplicate id", RV_ERR_FORMAT, "vocab.json", "id 1");
    put(tmpdir, "vocab.json", "{\"a\": 1, \"a\": 2}");
    expect_load_fail("vocab duplicate token", RV_ERR_FORMAT, "vocab.json", "'a' appears twice");
    put(tmpdir, "vocab.json", "{\"a\": 1, \"b\": 2}");
    expect_load_fail("vocab without byte tokens", RV_ERR_FORMAT, "vocab.json", "byte token");
    free(vocab);
    vocab = tiny_vocab(",\"x\":99999999");
    put(tmpdir, "vocab.json", vocab);
    expect_load_fail("vocab absurd id", RV_ERR_FORMAT, "vocab.json", "'x'");
    free(vocab);
    drop(tmpdir, "vocab.json");
    expect_load_fail("vocab.json missing", RV_ERR_IO, "vocab.json", "No such file");
    drop(tmpdir, "merges.txt");

    rv_tokenizer *t2 = (rv_tokenizer *)1;
    rv_error e2 = {0};
    CHECK(rv_tokenizer_load(&t2, "/nonexistent/tokenizer", &e2) == RV_ERR_IO && t2 == NULL &&
              strstr(e2.msg, "/nonexistent/tokenizer/vocab.json"),
          "missing folder: %s", e2.msg);
    rv_tokenizer_unload(NULL);
}

/* The golden cases of the tiny model fixtures carry the input ids the PyTorch
 * reference fed its text encoder; the engine must produce the same. */
static int check_golden_prompt(rv_tokenizer *tok, const char *model, const char *name,
                               const cJSON *prompt, const cJSON *ids)
{
    int checked = 0;
    for (int i = 0; cJSON_IsArray(ids) && i < cJSON_GetArraySize(ids); i++) {
        const cJSON *p = cJSON_IsArray(prompt) ? cJSON_GetArrayItem(prompt, i) : prompt;
        const cJSON *want = cJSON_GetArrayItem(ids, i);
        if (!cJSON_IsString(p) || cJSON_GetArraySize(want) != L)
            continue;
        int32_t got[L];
        enc(tok, p->valuestring, got);
        int bad = -1;
        for (int k = 0; k < L && bad < 0; k++)
            if (got[k] != cJSON_GetArrayItem(want, k)->valueint)
                bad = k;
        CHECK(bad < 0, "%s golden %s prompt '%s': id %d differs", model, name, p->valuestring, bad);
        checked++;
    }
    return checked;
}

static void test_goldens(void)
{
    static const char *models[] = {"tiny-sd15", "tiny-sd21"};
    const char *src = getenv("RV_SOURCE_DIR");
    for (int m = 0; m < 2; m++) {
        char path[512];
        snprintf(path, sizeof path, "%s/tests/fixtures/%s/goldens.json", src ? src : "..", models[m]);
        char *text = slurp(path);
        cJSON *root = text ? cJSON_Parse(text) : NULL;
        CHECK(root != NULL, "read %s", path);
        snprintf(path, sizeof path, "%s/tests/fixtures/%s/tokenizer", src ? src : "..", models[m]);
        rv_tokenizer *tok = NULL;
        rv_error err = {0};
        CHECK(rv_tokenizer_load(&tok, path, &err) == RV_OK, "load %s: %s", path, err.msg);
        int checked = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, ((root && tok) ? cJSON_GetObjectItemCaseSensitive(root, "cases") : NULL))
        {
            checked += check_golden_prompt(tok, models[m], c->string,
                                           cJSON_GetObjectItemCaseSensitive(c, "prompt"),
                                           cJSON_GetObjectItemCaseSensitive(c, "input_ids"));
            checked += check_golden_prompt(tok, models[m], c->string,
                                           cJSON_GetObjectItemCaseSensitive(c, "negative_prompt"),
                                           cJSON_GetObjectItemCaseSensitive(c, "negative_input_ids"));
        }
        CHECK(checked > 0, "%s: checked %d golden prompts", models[m], checked);
        rv_tokenizer_unload(tok);
        cJSON_Delete(root);
        free(text);
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rv_tok_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    char path[512];
    rv_tokenizer *tok = NULL;
    rv_error err = {0};
    rv_status s = rv_tokenizer_load(&tok, rv_test_shared("models/sd15/tokenizer", path, sizeof path),
                                    &err);
    CHECK(s == RV_OK, "load sd15 tokenizer: %s", err.msg);
    if (tok) {
        test_reference_cases(tok);
        test_rules(tok);
        rv_tokenizer_unload(tok);
    }
    test_sd21();
    test_goldens();
    test_folders();
    rmdir(tmpdir);
    return rv_test_finish("test_tokenizer");
}

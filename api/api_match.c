/*
 * api_match: topic patterns, segment by segment.
 */
#include "api/api_match.h"

#include <string.h>

int api_pattern_parse(api_pattern_t *p, const char *text, pw_err_t *err)
{
    if (text == NULL || text[0] == '\0')
        return pw_err_set(err, PW_EARG, "pattern '': empty");
    size_t len = strnlen(text, API_PATTERN_MAX + 1);
    if (len > API_PATTERN_MAX)
        return pw_err_set(err, PW_EARG, "pattern '%.32s...': longer than %d bytes", text,
                          API_PATTERN_MAX);
    memcpy(p->text, text, len + 1);
    p->len = len;
    p->nseg = 0;
    size_t start = 0;
    for (;;) {
        const char *slash = memchr(text + start, '/', len - start);
        size_t end = slash ? (size_t)(slash - text) : len;
        size_t n = end - start;
        if (n == 0)
            return pw_err_set(err, PW_EARG, "pattern '%s': empty segment at byte %zu", text,
                              start);
        if (p->nseg == API_PATTERN_SEGS)
            return pw_err_set(err, PW_EARG, "pattern '%s': more than %d segments", text,
                              API_PATTERN_SEGS);
        const char *seg = text + start;
        uint8_t kind = API_SEG_LITERAL;
        if (n == 1 && seg[0] == '*') {
            kind = API_SEG_ONE;
        } else if (n == 1 && seg[0] == '#') {
            if (slash)
                return pw_err_set(err, PW_EARG,
                                  "pattern '%s': '#' must be the last segment", text);
            kind = API_SEG_REST;
        } else if (memchr(seg, '*', n) || memchr(seg, '#', n)) {
            return pw_err_set(err, PW_EARG,
                              "pattern '%s': '*' and '#' must be a whole segment ('%.*s')",
                              text, (int)n, seg);
        }
        p->off[p->nseg] = (uint16_t)start;
        p->seg_len[p->nseg] = (uint16_t)n;
        p->kind[p->nseg] = kind;
        p->nseg++;
        if (!slash)
            break;
        start = end + 1;
    }
    return 0;
}

bool api_pattern_match(const api_pattern_t *p, const char *name, size_t len)
{
    size_t pos = 0;
    for (uint16_t i = 0; i < p->nseg; i++) {
        if (pos > len)
            return false; /* name has no segment left */
        if (p->kind[i] == API_SEG_REST)
            return true; /* pos <= len: at least one (maybe empty) segment remains */
        const char *slash = memchr(name + pos, '/', len - pos);
        size_t end = slash ? (size_t)(slash - name) : len;
        if (p->kind[i] == API_SEG_LITERAL &&
            (end - pos != p->seg_len[i] || memcmp(name + pos, p->text + p->off[i], end - pos)))
            return false;
        pos = end + 1; /* past the '/', or len + 1 at the end of the name */
    }
    return pos == len + 1; /* every segment of the name used */
}

/*
 * api_auth: the token table. Each token is kept with its length; a check
 * compares the candidate with every token, all the way, so the time spent
 * depends only on the configured tokens, never on the candidate's bytes.
 */
#include "api/api_auth.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

typedef struct token {
    char *secret;
    size_t len;
    unsigned scopes;
} token_t;

struct api_auth {
    token_t *t;
    size_t n;
};

static const struct {
    const char *name;
    unsigned bit;
} scope_names[] = {
    {"read:live", API_SCOPE_LIVE},
    {"read:history", API_SCOPE_HISTORY},
    {"admin", API_SCOPE_ADMIN},
};

unsigned api_auth_scope_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof scope_names / sizeof scope_names[0]; i++)
        if (!strcmp(name, scope_names[i].name))
            return scope_names[i].bit;
    return 0;
}

const char *api_auth_scope_name(unsigned scope)
{
    for (size_t i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++)
        if (scope == scope_names[i].bit)
            return scope_names[i].name;
    return "?";
}

static int add(api_auth_t *a, const char *secret, unsigned scopes, pw_err_t *err)
{
    size_t len = secret ? strlen(secret) : 0;
    if (len == 0 || len > API_AUTH_TOKEN_MAX || scopes == 0)
        return pw_err_set(err, PW_EARG, "api token %zu: %s", a->n + 1,
                          len == 0 ? "empty" : scopes == 0 ? "no scopes" : "too long");
    char *s = strdup(secret);
    if (s == NULL)
        return pw_err_set(err, -ENOMEM, "out of memory");
    a->t[a->n++] = (token_t){s, len, scopes & API_SCOPE_ADMIN ? 7u : scopes};
    return 0;
}

int api_auth_create(const api_token_conf_t *tokens, size_t n, const char *admin_token,
                    api_auth_t **out, pw_err_t *err)
{
    api_auth_t *a = calloc(1, sizeof *a);
    if (a)
        a->t = calloc(n + 1, sizeof *a->t);
    if (a == NULL || a->t == NULL) {
        free(a);
        return pw_err_set(err, -ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned bits = 0;
        for (size_t k = 0; k < tokens[i].nscopes; k++)
            bits |= api_auth_scope_parse(tokens[i].scopes[k]);
        rc = add(a, tokens[i].token, bits, err);
    }
    if (rc == 0 && admin_token)
        rc = add(a, admin_token, API_SCOPE_ADMIN, err);
    if (rc) {
        api_auth_destroy(a);
        return rc;
    }
    *out = a;
    return 0;
}

void api_auth_destroy(api_auth_t *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n; i++) {
        volatile char *p = a->t[i].secret;
        for (size_t k = 0; k < a->t[i].len; k++)
            p[k] = 0;
        free(a->t[i].secret);
    }
    free(a->t);
    free(a);
}

/* 1 when c[0..clen) equals t[0..tlen), in time depending on tlen only. */
static int ct_equal(const char *c, size_t clen, const char *t, size_t tlen)
{
    volatile unsigned char diff = (unsigned char)(clen != tlen);
    for (size_t i = 0; i < tlen; i++) {
        unsigned char cb = i < clen ? (unsigned char)c[i] : 0;
        diff |= (unsigned char)(cb ^ (unsigned char)t[i]);
    }
    return diff == 0;
}

api_auth_result_t api_auth_check(const api_auth_t *a, const char *header,
                                 const char *query_token, unsigned need, unsigned *scopes)
{
    const char *tok = NULL;
    size_t len = 0;
    if (header && *header) {
        /* "Bearer <token>": the scheme is case-insensitive (RFC 7235). */
        while (*header == ' ')
            header++;
        if (strncasecmp(header, "Bearer ", 7) != 0)
            return API_AUTH_UNKNOWN;
        tok = header + 7;
        while (*tok == ' ')
            tok++;
        len = strlen(tok);
        while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
            len--;
    } else if (query_token && *query_token) {
        tok = query_token;
        len = strlen(tok);
    }
    if (tok == NULL || len == 0)
        return API_AUTH_MISSING;
    if (len > API_AUTH_TOKEN_MAX)
        return API_AUTH_UNKNOWN;
    unsigned found = 0;
    bool hit = false;
    for (size_t i = 0; i < a->n; i++) {
        int eq = ct_equal(tok, len, a->t[i].secret, a->t[i].len);
        found |= eq ? a->t[i].scopes : 0;
        hit |= eq != 0;
    }
    if (!hit)
        return API_AUTH_UNKNOWN;
    if (scopes)
        *scopes = found;
    return (found & need) == need ? API_AUTH_OK : API_AUTH_FORBIDDEN;
}

int api_auth_reply(api_auth_result_t r, unsigned need, char *buf, size_t len)
{
    if (len)
        buf[0] = '\0';
    switch (r) {
    case API_AUTH_OK:
        return 200;
    case API_AUTH_MISSING:
        snprintf(buf, len, "{\"error\":\"unauthorized\",\"message\":\"a token is needed: "
                           "send 'Authorization: Bearer <token>' or add ?token=<token>\"}");
        return 401;
    case API_AUTH_UNKNOWN:
        snprintf(buf, len, "{\"error\":\"unauthorized\",\"message\":\"the token is not "
                           "valid (expected 'Authorization: Bearer <token>' with a "
                           "configured token)\"}");
        return 401;
    case API_AUTH_FORBIDDEN:
        break;
    }
    char names[64] = "";
    for (unsigned bit = 1; bit <= API_SCOPE_ADMIN; bit <<= 1)
        if (need & bit)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     names[0] ? ", " : "", api_auth_scope_name(bit));
    snprintf(buf, len, "{\"error\":\"forbidden\",\"message\":\"the token lacks the scope "
                       "this needs: %s\"}", names);
    return 403;
}

int api_auth_generate(char *buf, size_t len)
{
    unsigned char raw[32];
    if (len < 2 * sizeof raw + 1)
        return -EINVAL;
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        buf[2 * i] = hex[raw[i] >> 4];
        buf[2 * i + 1] = hex[raw[i] & 15];
    }
    buf[2 * sizeof raw] = '\0';
    return 0;
}

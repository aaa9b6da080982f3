/*
 * api_auth: access tokens and their scopes. A request presents a token in
 * an `Authorization: Bearer <token>` header or, for browsers' WebSocket
 * (which cannot set headers), a `token` query parameter; api_auth_check()
 * says whether it may do what it asks. Tokens come from the configuration
 * (api.tokens) plus, optionally, one admin token given on the command line
 * (--token, PITWALL_TOKEN) or generated at start.
 *
 * Tokens are compared in constant time (the time does not depend on where
 * a guess first differs) and are never logged or put in a reply. `admin`
 * implies every other scope.
 *
 * Threads: create and destroy on one thread; api_auth_check() only reads
 * and may run on any thread at once.
 */
#ifndef API_AUTH_H
#define API_AUTH_H

#include <stddef.h>

#include "api/api_conf.h"
#include "core/pw_error.h"

/* Longest token accepted, bytes. */
#define API_AUTH_TOKEN_MAX 256

/* Scopes, as bits. */
enum api_scope {
    API_SCOPE_LIVE = 1,     /* read:live: WebSocket subscriptions */
    API_SCOPE_HISTORY = 2,  /* read:history: HTTP queries */
    API_SCOPE_ADMIN = 4,    /* admin: everything */
};

/* What a check found. */
typedef enum api_auth_result {
    API_AUTH_OK = 0,
    API_AUTH_MISSING,       /* no token presented: 401 */
    API_AUTH_UNKNOWN,       /* a token nobody configured: 401 */
    API_AUTH_FORBIDDEN,     /* a known token without the scope: 403 */
} api_auth_result_t;

typedef struct api_auth api_auth_t;

/* The bit of a scope name ("read:live"), or 0 if unknown. */
unsigned api_auth_scope_parse(const char *name);

/* The name of one scope bit ("read:live"), or "?" */
const char *api_auth_scope_name(unsigned scope);

/*
 * Build the token table from tokens[0..n) (checked: api_conf_check) and,
 * if admin_token is not NULL, one more token with every scope. Everything
 * is copied. Returns 0, PW_EARG (an empty, too long or scopeless token) or
 * -ENOMEM; *out is the caller's until api_auth_destroy().
 */
int api_auth_create(const api_token_conf_t *tokens, size_t n, const char *admin_token,
                    api_auth_t **out, pw_err_t *err);

/* Free the table (wiping the secrets). NULL is a no-op. */
void api_auth_destroy(api_auth_t *a);

/*
 * May the holder of a token do what needs (API_SCOPE_* bits, all needed)?
 * header: the Authorization header's value or NULL; query_token: the
 * `token` query parameter or NULL; the header wins when both are given.
 * Sets *scopes (may be NULL) to the token's scopes on OK and FORBIDDEN.
 */
api_auth_result_t api_auth_check(const api_auth_t *a, const char *header,
                                 const char *query_token, unsigned need, unsigned *scopes);

/*
 * The HTTP status (401, 403) of a failed check and a JSON body saying why,
 * into buf (NUL-terminated, truncated to len). Returns the status, or 200
 * for API_AUTH_OK (buf then empty).
 */
int api_auth_reply(api_auth_result_t r, unsigned need, char *buf, size_t len);

/*
 * Make a random token (hex, 32 bytes of entropy from getrandom) into buf,
 * which must hold at least 65 bytes. Returns 0 or -errno.
 */
int api_auth_generate(char *buf, size_t len);

#endif

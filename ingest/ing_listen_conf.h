/*
 * ing_listen_conf: the `listen` configuration section: where `pitwall run`
 * accepts live batches (UDP datagrams, TCP streams of msgpack batches or
 * JSON lines) and which topic they go to.
 */
#ifndef ING_LISTEN_CONF_H
#define ING_LISTEN_CONF_H

#include <stdint.h>

#include "core/pw_conf.h"

typedef struct ing_listen_conf {
    char *udp;             /* "127.0.0.1:9000"; NULL/empty = no UDP listener */
    char *tcp;             /* likewise for TCP */
    char *topic;           /* where received batches are appended */
    int64_t queue_batches; /* batches between the listener and the log */
} ing_listen_conf_t;

extern const pw_conf_section_t ing_listen_conf_section;

#endif

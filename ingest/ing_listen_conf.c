#include "ingest/ing_listen_conf.h"

#include <stddef.h>

static const pw_conf_key_t listen_keys[] = {
    {.name = "udp", .type = PW_CONF_STRING, .offset = offsetof(ing_listen_conf_t, udp),
     .desc = "address for msgpack batches in UDP datagrams (\"127.0.0.1:9000\"); "
             "unset = no UDP listener"},
    {.name = "tcp", .type = PW_CONF_STRING, .offset = offsetof(ing_listen_conf_t, tcp),
     .desc = "address for msgpack batches or JSON lines over TCP; unset = no TCP listener"},
    {.name = "topic", .type = PW_CONF_STRING, .offset = offsetof(ing_listen_conf_t, topic),
     .def = "telemetry", .desc = "stream topic received batches are appended to"},
    {.name = "queue_batches", .type = PW_CONF_INT,
     .offset = offsetof(ing_listen_conf_t, queue_batches), .def = "256", .min = "1",
     .max = "65536",
     .desc = "batches held between the listener and the log; when full, UDP drops "
             "(counted) and TCP pushes back"},
};

const pw_conf_section_t ing_listen_conf_section = {
    .name = "listen",
    .desc = "live UDP/TCP listeners of `pitwall run`",
    .keys = listen_keys,
    .nkeys = PW_CONF_NKEYS(listen_keys),
};

/*
 * ing_ibt: the iRacing telemetry decoder (.ibt files, iRacing SDK layout).
 *
 * An .ibt file is a 112-byte irsdk_header (version 2), a 32-byte
 * irsdk_diskSubHeader (start date, start/end session time, lap and sample
 * counts), a table of 144-byte variable headers (type, byte offset in a
 * sample, element count, name, description, unit), the session info as
 * YAML text, and then fixed-size sample rows (bufLen bytes each, 60 Hz),
 * all little-endian. ing_ibt_decode (declared in ing_format.h) turns every
 * sample into one point per channel element; the functions here let tools
 * look at the header and the variable table without decoding.
 *
 * Two layouts are read:
 * - disk: what iRacing writes to disk. Rows are contiguous from
 *   varBuf[0].bufOffset; sessionRecordCount of them are promised. Fewer
 *   whole rows in the file is a truncation (reported in stats, not an
 *   error); a partial last row is not decoded.
 * - live: a snapshot of iRacing's live memory map (the 1164 KiB shared
 *   memory saved to a file), recognised by a session info or variable
 *   table offset below 144, where a disk file keeps its sub-header. It has
 *   no sub-header (so no date: timestamps are session-relative) and holds
 *   numBuf rotating sample buffers, decoded in tickCount order.
 *
 * What ing_ibt_decode emits:
 * - first, one session: name = TrackName, id = SubSessionID (or the start
 *   date when that is 0); keys IbtLayout ("disk"/"live"), Entity, TickRate,
 *   SessionStartDate/StartTime/EndTime/LapCount/RecordCount (disk), IbtYaml
 *   (how the YAML was read), then the WeekendInfo keys TrackName,
 *   TrackDisplayName, TrackLength, ..., the DriverInfo keys DriverCarIdx,
 *   DriverCarFuelKgPerLtr, DriverCarFuelMaxLtr, ..., and UserName,
 *   CarNumber, CarScreenName, ... of the driver's own car;
 * - then one point per sample per channel element: entity
 *   "car/<CarNumber>" (the Drivers entry whose CarIdx is DriverCarIdx;
 *   "car/<DriverCarIdx>" without a number, "car/0" without YAML), channel
 *   the variable name, "Name[i]" for element i of an array variable,
 *   value as a double (ints and chars as numbers, bitfields unsigned,
 *   bools 0/1);
 * - timestamps: sessionStartDate is the wall clock of the first sample
 *   (SessionTime = sessionStartTime), so ts_ns = (sessionStartDate +
 *   SessionTime - sessionStartTime) * 1e9, Unix ns. Live snapshots and
 *   files without a usable date get ts_ns = SessionTime * 1e9, relative to
 *   the session start. A sample whose SessionTime is not a time is
 *   skipped (stats.skipped).
 * Options: ing_opts_t.channels takes variable names ("CarIdxLap", all its
 * elements) or single elements ("CarIdxLap[3]"); an unknown one fails
 * with PW_ENOTFOUND, naming some channels the file has.
 * The YAML is parsed with libyaml; if libyaml rejects it (iRacing writes
 * names unquoted and in Windows-1252), it is parsed again with every value
 * quoted and non-UTF-8 bytes read as Latin-1. If that fails too the
 * samples are still decoded, the session has header keys only and
 * stats.first_problem says why.
 *
 * Not thread-safe per call; no global state (several threads may decode
 * different inputs at once).
 */
#ifndef ING_IBT_H
#define ING_IBT_H

#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"

/* Sizes of the fixed structures, bytes. */
#define ING_IBT_HEADER_BYTES 112
#define ING_IBT_SUBHEADER_BYTES 32
#define ING_IBT_VAR_BYTES 144

/* The only header version there is. */
#define ING_IBT_VERSION 2

/* Limits beyond which a header is taken as corrupt. */
#define ING_IBT_MAX_VARS 8192          /* numVars; real files hold 250-350 */
#define ING_IBT_MAX_ROW_BYTES (1 << 24) /* bufLen, bytes */
#define ING_IBT_MAX_ELEMENTS (1 << 20) /* channel elements (array elements count) */
#define ING_IBT_MAX_BUFS 4             /* numBuf (live maps use 3) */

/* Variable types (irsdk_VarType). */
enum ing_ibt_type {
    ING_IBT_CHAR = 0,     /* 1 byte, emitted as its unsigned value */
    ING_IBT_BOOL = 1,     /* 1 byte, emitted as 0 or 1 */
    ING_IBT_INT = 2,      /* int32 */
    ING_IBT_BITFIELD = 3, /* 32 flag bits, emitted as an unsigned value */
    ING_IBT_FLOAT = 4,    /* float32 */
    ING_IBT_DOUBLE = 5,   /* float64 */
};

/* What the headers of a file say, after ing_ibt_probe checked them. */
typedef struct ing_ibt_info {
    int live;                  /* 1: live memory-map snapshot, 0: disk file */
    int tick_rate_hz;          /* samples per second (60) */
    uint32_t nvars;            /* variable headers */
    size_t var_offset;         /* byte offset of the variable headers */
    uint32_t row_bytes;        /* bytes per sample (bufLen) */
    uint32_t elements;         /* channel elements per sample (arrays count each) */
    size_t yaml_offset;        /* session info YAML: byte offset */
    size_t yaml_len;           /* its length up to the first NUL, bytes */
    int64_t start_date_s;      /* disk: Unix s at the first sample; 0 if none */
    double start_time_s;       /* disk: SessionTime of the first sample, s */
    double end_time_s;         /* disk: SessionTime of the last sample, s */
    int32_t lap_count;         /* disk: laps in the recording */
    int64_t samples_promised;  /* disk: sessionRecordCount; live: numBuf */
    size_t samples;            /* whole samples present (what a decode reads) */
    size_t data_offset;        /* disk: byte offset of sample 0 */
    size_t live_offset[ING_IBT_MAX_BUFS]; /* live: sample i's byte offset, by tick */
    int truncated;             /* 1: fewer samples than promised */
    size_t truncated_at;       /* then: the byte where the first missing sample starts */
} ing_ibt_info_t;

/* One variable header. */
typedef struct ing_ibt_var {
    int type;              /* enum ing_ibt_type */
    uint32_t offset;       /* byte offset inside a sample */
    uint32_t count;        /* elements (1 for a scalar) */
    int count_as_time;     /* irsdk countAsTime flag */
    char name[33];         /* "FuelLevel", NUL-terminated */
    char desc[65];         /* "Liters of fuel remaining" */
    char unit[33];         /* "l" */
} ing_ibt_var_t;

/*
 * Check the header, the sub-header, the variable table (every variable's
 * type, and offset + size within a sample) and the YAML range of
 * data[0..len), and fill *info. name is the input's name for messages.
 * Returns 0; PW_ETRUNC when a header or table ends past the input;
 * PW_ECORRUPT for a wrong version, an absurd count, an offset out of range
 * or a bad variable (named in err). Truncated sample rows are not an error
 * (info->truncated). Reads only data[0..len); *info untouched on failure.
 * Thread-safe.
 */
int ing_ibt_probe(const char *name, const uint8_t *data, size_t len, ing_ibt_info_t *info,
                  pw_err_t *err);

/*
 * Variable header i (0..info->nvars) of an input that ing_ibt_probe
 * accepted with this info. Returns 0 or PW_ERANGE (i too large).
 */
int ing_ibt_var_get(const uint8_t *data, size_t len, const ing_ibt_info_t *info, uint32_t i,
                    ing_ibt_var_t *var);

/* Byte size of one element of a type; 0 for an unknown type. */
size_t ing_ibt_type_size(int type);

#endif

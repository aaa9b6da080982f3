/*
 * ing_ngs: NFL Next Gen Stats player tracking (the TSV files of the
 * ngs_highlights collection: one row per player and ball per 100 ms frame)
 * decoded into Pitwall frames. The decoder itself, ing_ngs_decode(), is
 * declared with the others in ingest/ing_format.h; this header says what it
 * emits and offers its file filter and time parser (for the format table,
 * other text decoders and the tests).
 *
 * What ing_ngs_decode() emits, per play:
 * - one session (emit->session) before the play's frames: id = gameId *
 *   10000 + playId, below 2^53 like the other decoders' ids (a row whose
 *   playId is 10000 or more, or whose id would pass 2^53, is skipped; NFL
 *   gameIds have 10 digits, the bound is at 12), name "gameId/playId" ("2018011401/4497"), and text pairs:
 *   gameId, playId, playType, season, seasonType, week, quarter,
 *   gameClock, down, yardsToGo, yardline, yardlineSide, yardlineNumber,
 *   absoluteYardlineNumber, playDirection, preSnapHomeScore,
 *   preSnapVisitorScore (as written in the play's first row; a pair is
 *   left out when its column is absent), homeTeam and awayTeam (teamAbbr
 *   of the rows with homeTeamFlag 1 and 0), possessionTeam (teamAbbr of
 *   the rows with possessionFlag 1; empty when no row says) and
 *   playDescription.
 * - one frame per distinct `time` value, in time order. Frames are keyed
 *   by time, not by the `frame` column: in 64 of the 235 files some
 *   entity's frame numbers are shifted against the others' (the ball by
 *   -18 frames in 6 plays, players after a gap in their tracking), and
 *   the time column is what lines them up (grouped by time, each of the
 *   231 plays with a snap has one ball_snap frame, of 23 objects; grouped
 *   by frame number there are 241). ts_ns is the time column read as UTC, in ns
 *   since the Unix epoch.
 * - a frame's objects are its rows in input order, one per entity: a
 *   frame the upstream data repeats (one copy per event falling on it) is
 *   emitted once. Entities are interned into names->entities as
 *   "nfl/<nflId>" (the ".0" of "2495438.0" dropped) and "ball" (the row
 *   with an empty nflId); team is PW_TEAM_HOME or PW_TEAM_AWAY from
 *   homeTeamFlag (1 = home), PW_TEAM_BALL for the ball, PW_TEAM_UNKNOWN
 *   when a player's flag is empty. x, y in yards, s -> speed (yd/s), o ->
 *   orientation and dir -> direction (degrees), parsed as strtod() would
 *   (ing_csv_parse_double) and rounded to float; an empty value, "NA" or
 *   "nan" is NaN (the ball has no o, dir).
 * - labels: the frame's distinct `event` values, in row order, interned
 *   into names->labels ("ball_snap", "pass_forward"); at most
 *   PW_FRAME_LABELS. One frame in the 235 files carries three events
 *   (ball_snap, penalty_flag, penalty_declined): the third is dropped and
 *   said in st->first_problem (with the number of such frames) unless a
 *   skipped row's text is there; it is not counted as skipped.
 *
 * Rows need not be grouped or ordered (the upstream files are ordered by
 * entity, then frame): a play's rows are collected (a buffer that grows
 * geometrically and is reused, never an allocation per row), sorted by
 * time (stable) and emitted. A change of gameId/playId ends a play, so
 * files can be concatenated.
 *
 * A bad row is skipped and counted (st->skipped, the first in
 * st->first_problem as "name:LINE: what"): a column count other than the
 * header's, an unparsable number, time or id, a playId >= 10000, a
 * frame number lower than the previous row's of the same entity, or (at
 * emission) a row past 65535 objects at one time. Blank
 * lines are ignored. A last line cut short (no newline, fewer columns) is
 * reported as truncation (st->truncated). No header line, a header without
 * tabs or without a required column (gameId, playId, frame, time, nflId,
 * homeTeamFlag, x, y, s, o, dir, event) is PW_ECORRUPT before anything is
 * emitted; an intern table that is full is fatal (its error).
 *
 * Threads: no global state; see ing_format.h.
 */
#ifndef ING_NGS_H
#define ING_NGS_H

#include <stddef.h>
#include <stdint.h>

/*
 * For ing_format_t.wants: 0 for the index files that sit beside the plays
 * (nfl_ngs_highlights_index.tsv, ngs_highlights_index.tsv), else 1.
 */
int ing_ngs_wants(const char *basename);

/*
 * Parse "YYYY-MM-DD HH:MM:SS[.fffffffff]" (a 'T' may stand for the space;
 * a trailing 'Z' is allowed), read as UTC, into ns since the Unix epoch,
 * without the C library's time zone. Years 1900..2200. Returns 0, or -1
 * (*ts_ns untouched). Thread-safe.
 */
int ing_ngs_parse_time(const char *s, size_t n, int64_t *ts_ns);

#endif

/*
 * ing_events: event-only feeds (no tracking) as labelled event streams,
 * decoded by ing_events_decode() (prototype in ingest/ing_format.h).
 *
 * Three feeds are recognised from the input's header line, whatever the
 * file is called (a UTF-8 byte-order mark is skipped; CRLF or LF lines;
 * CSV fields may be quoted, with "" inside quotes left as it is):
 *
 *   Metrica   Metrica Sports event CSV (Sample_Game_N_RawEventsData.csv):
 *             comma-separated, header with Team, Type, Subtype, Period,
 *             "Start Frame", From, "Start X", "Start Y".
 *   NBA       stats.nba.com play-by-play CSV (one game per file): header
 *             with GAME_ID, EVENTMSGTYPE, PERIOD, PCTIMESTRING,
 *             HOMEDESCRIPTION, VISITORDESCRIPTION, PERSON1TYPE, PLAYER1_ID.
 *   DEBS      DEBS 2013 Grand Challenge referee events: semicolon-separated,
 *             header event_id;event_name;event_time_real;event_counter;...
 *             The "Statistic:" block at the end of each file is a summary,
 *             not events: decoding stops there.
 * Any other header is PW_ECORRUPT ("x.csv:1: unknown header '...'"); a
 * recognised header that lacks a column the decoder needs is PW_ECORRUPT
 * naming the column; an empty input (or one holding only a byte-order
 * mark or blank space) is PW_ECORRUPT "empty input", and so is UTF-16.
 * These errors come before any callback runs. data (unless len is 0),
 * the three name tables and st must be given (else PW_EARG); emit may be
 * NULL, and so may any of its callbacks.
 *
 * Each event row becomes one frame of the file's session, in file order:
 * label[0] the event type, label[1] a sub-type or PW_LABEL_NONE (both
 * interned in names->labels), and one object, the actor, when the row
 * names one (none otherwise). The actor's speed, orientation and direction
 * are NaN; x and y are NaN unless the feed gives a position.
 *
 *   Metrica   label[0] = Type ("PASS", "SHOT", "SET PIECE", ...), label[1] =
 *             Subtype as written ("ON TARGET-GOAL", "KICK OFF") or none.
 *             Actor "metrica/<From>" ("metrica/Player9"), team Home/Away
 *             from Team; x, y = Start X * 105, Start Y * 68: metres on
 *             Metrica's 105 x 68 m pitch, origin top left, y downwards.
 *             Time: Start Frame * 40 ms (25 fps), ns since the start of the
 *             (synchronised) tracking; the file carries no date. Session id:
 *             the last number in the file's name (Sample_Game_2_... -> 2),
 *             else a 64-bit FNV-1a hash of the name without extension.
 *   NBA       label[0] from EVENTMSGTYPE: FIELD_GOAL (1 made, 2 missed),
 *             FREE_THROW, REBOUND, TURNOVER, FOUL, VIOLATION, SUBSTITUTION,
 *             TIMEOUT, JUMP_BALL, EJECTION, PERIOD_BEGIN, PERIOD_END,
 *             INSTANT_REPLAY, other codes "EVENTMSGTYPE_<n>"; label[1] MADE
 *             or MISSED for FIELD_GOAL and FREE_THROW (a free throw is
 *             missed when its description says "MISS "), else none.
 *             Actor "nba/<PLAYER1_ID>" (a player, or a team or coach id on
 *             team events) when PLAYER1_ID is not 0; team from PERSON1TYPE
 *             (2, 4, 6 home; 3, 5, 7 away; else unknown); x, y NaN.
 *             Time: game clock elapsed since the tip-off, in ns (12-minute
 *             periods, 5-minute overtimes; stoppages take no time), from
 *             PERIOD and PCTIMESTRING; no date. Session id: GAME_ID as a
 *             decimal number (0021500001 -> 21500001); a row of another
 *             game is skipped.
 *   DEBS      event_name "Game Interruption Begin|End" -> GAME INTERRUPTION
 *             + BEGIN|END, no actor; "<player> Begin|End" -> BALL POSSESSION
 *             + BEGIN|END; any other name "<player>" -> SHOT ON GOAL (the
 *             Shot on Goal files name the shooter only). Actor
 *             "debs/<player name>" (the files have no player ids; names
 *             that are not UTF-8 are read as Latin-1: "Ben Müller"); team
 *             home for the players of Team A in the data set's
 *             metadata.txt, away for Team B, else unknown; x, y NaN.
 *             Time: the DEBS 2013 sensor clock in ns (its picoseconds /
 *             1000): event_time_real ("00:03:12.025", from the half's
 *             start) plus the half's kick-off on that clock, the half taken
 *             from the input's name ("1st Half" / "2nd Half"); without one
 *             the time is from the half's start. The referee clock is the
 *             video's and may be a few seconds off the sensors'. Session id
 *             ING_EVENTS_DEBS_SESSION (the data set is one game).
 *
 * The session callback runs once per input, after the header and before
 * any frame, with: source, format, time_base, game and per feed the teams
 * (NBA: abbreviation, id, city and name of home and away), the half (DEBS).
 *
 * Bad rows (a wrong field count, a bad number or clock, an empty event
 * type, an actor name too long) are skipped and counted; the first gives
 * st->first_problem "name:LINE: what". A last line with no newline that
 * does not decode is truncation (st->truncated = 1), not a skip. Blank
 * lines are ignored. stats: records = rows read (not the header, blank
 * lines or the DEBS summary), events = frames = rows decoded.
 *
 * Memory: one frame batch per call (opts->batch_frames, reserved up to
 * ING_EVENTS_RESERVE_FRAMES at the start); rows allocate nothing except
 * new names in the intern tables.
 */
#ifndef ING_EVENTS_H
#define ING_EVENTS_H

#include <stdint.h>

#include "ingest/ing_format.h"

/* Metrica frame period: 25 fps. */
#define ING_EVENTS_METRICA_FRAME_NS 40000000LL

/* Metrica pitch, metres (Metrica's README: 105 x 68 m for the sample games). */
#define ING_EVENTS_METRICA_LENGTH_M 105.0
#define ING_EVENTS_METRICA_WIDTH_M 68.0

/* Session id of the DEBS 2013 game. */
#define ING_EVENTS_DEBS_SESSION 2013u

/* Kick-offs of the DEBS 2013 halves on the sensor clock, ns (the challenge
 * gives 10753295594424116 ps and 13086639146403495 ps). */
#define ING_EVENTS_DEBS_HALF1_NS 10753295594424LL
#define ING_EVENTS_DEBS_HALF2_NS 13086639146403LL

/* Frames reserved up front, whatever batch_frames asks (a larger batch
 * grows once, while the first batch fills). */
#define ING_EVENTS_RESERVE_FRAMES 1024

#endif

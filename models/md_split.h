/*
 * md_split: which NGS play files the football models (pressure, events)
 * are fitted on, and which files an eval may score.
 *
 * Training: a play file <season>_<team>_<gameId>_<playId>.tsv.gz is kept
 * aside (never fitted on) when gameId % 5 == 0. Sack plays (a qb_sack or
 * qb_strip_sack label) are too few for that rule (it put 6 of the 7 in
 * the aside set), so they are split on their own: kept aside when playId
 * is even. A file whose name does not parse as a play (an index, notes)
 * is neither fitted on nor scored.
 *
 * Eval: every play file given that the model was not fitted on (the
 * model file's training.files). The hockey model uses the same rule for
 * its tracking files (its own training split is a game kept aside). So an eval of the whole NGS folder scores the
 * plays kept aside, and an eval of a folder of new plays scores them all.
 *
 * PITWALL_SPLIT=all makes train fit every file and eval score every file;
 * PITWALL_SPLIT=train makes eval score only the model's training files
 * (an in-sample check).
 *
 * Threads: md_split_seen_t is read-only once loaded; the rest is pure.
 */
#ifndef MD_SPLIT_H
#define MD_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"
#include "core/pw_record.h"

/* 1: kept aside; 0: a training play; -1: the name does not parse. */
int md_split_held_out(const char *path, bool sack_play);

/* Whether the file is named as a play, so that the split can place it. */
bool md_split_is_play(const char *path);

/* Whether any frame of f carries label a or b (0 never matches). */
bool md_split_has_label(const pw_frames_t *f, uint32_t a, uint32_t b);

/* Whether train fits on this play (PITWALL_SPLIT=all: every play). */
bool md_split_train_uses(const char *path, bool sack_play);

/* The basenames a model was fitted on (its file's training.files). */
typedef struct md_split_seen {
    char **name; /* sorted */
    size_t n;
} md_split_seen_t;

/*
 * Read training.files of the model file at path. 0, or PW_ECORRUPT
 * ("<path>: no training.files list") / -ENOMEM with err set.
 */
int md_split_seen_load(const char *model_path, md_split_seen_t *s, pw_err_t *err);
void md_split_seen_fini(md_split_seen_t *s);

/* Whether eval scores this file, by its basename (see above); the caller checks its kind. */
bool md_split_eval_uses(const md_split_seen_t *s, const char *path);

/* What train fits and what eval scores, in words, for reports and files. */
const char *md_split_train_desc(void);
const char *md_split_eval_desc(void);

#endif

/*
 * md_split: the football models' training split and which files eval
 * scores.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "models/md_split.h"

Test(md_split, keeps_games_with_id_divisible_by_five_aside)
{
    cr_assert_eq(md_split_held_out("/d/2019_SF_2019111100_3345.tsv.gz", false), 1);
    cr_assert_eq(md_split_held_out("2019_TB_2019092909_5000.tsv.gz", false), 0);
    cr_assert_eq(md_split_held_out("x/2017_MIN_2018011401_4497.tsv.gz", false), 0);
    cr_assert_eq(md_split_held_out("index.tsv", false), -1);
    cr_assert_eq(md_split_held_out("2019_TB_2019092909.tsv.gz", false), -1);
}

Test(md_split, splits_sack_plays_by_play_id)
{
    /* Sack plays go by playId parity, so both halves hold sacks. */
    cr_assert_eq(md_split_held_out("2019_SF_2019111100_3345.tsv.gz", true), 0);
    cr_assert_eq(md_split_held_out("2019_TB_2019092909_5000.tsv.gz", true), 1);
    cr_assert_eq(md_split_held_out("2019_GB_2019090500_4576.tsv.gz", true), 1);
}

Test(md_split, train_fits_only_training_plays_unless_told_all)
{
    unsetenv("PITWALL_SPLIT");
    cr_assert(md_split_train_uses("2019_TB_2019092909_5000.tsv.gz", false));
    cr_assert_not(md_split_train_uses("2019_TB_2019092909_5000.tsv.gz", true));
    cr_assert_not(md_split_train_uses("notes.tsv", false));
    setenv("PITWALL_SPLIT", "all", 1);
    cr_assert(md_split_train_uses("2019_TB_2019092909_5000.tsv.gz", true));
    unsetenv("PITWALL_SPLIT");
}

Test(md_split, eval_scores_what_the_model_was_not_fitted_on)
{
    char path[] = "/tmp/pw_split_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"training\": {\"files\": [\"b_T_3_1.tsv.gz\", \"a_T_2_1.tsv.gz\"]}}", f);
    fclose(f);
    md_split_seen_t s;
    pw_err_t err = {0};
    cr_assert_eq(md_split_seen_load(path, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(s.n, 2);
    unsetenv("PITWALL_SPLIT");
    cr_assert_not(md_split_eval_uses(&s, "/data/a_T_2_1.tsv.gz"));
    cr_assert(md_split_eval_uses(&s, "/data/c_T_5_1.tsv.gz"));
    /* A folder of new plays is scored whole, whatever their game ids. */
    cr_assert(md_split_eval_uses(&s, "new/2020_X_2020000001_7.tsv.gz"));
    /* The football loaders score play files only; an index is not one. */
    cr_assert_not(md_split_is_play("/data/nfl_ngs_highlights_index.tsv"));
    cr_assert(md_split_is_play("/data/2020_X_2020000001_7.tsv.gz"));
    setenv("PITWALL_SPLIT", "train", 1);
    cr_assert(md_split_eval_uses(&s, "b_T_3_1.tsv.gz"));
    cr_assert_not(md_split_eval_uses(&s, "c_T_5_1.tsv.gz"));
    setenv("PITWALL_SPLIT", "all", 1);
    cr_assert(md_split_eval_uses(&s, "c_T_5_1.tsv.gz"));
    unsetenv("PITWALL_SPLIT");
    md_split_seen_fini(&s);

    f = fopen(path, "w");
    fputs("{\"training\": {}}", f);
    fclose(f);
    cr_assert_eq(md_split_seen_load(path, &s, &err), PW_ECORRUPT);
    cr_assert(strstr(err.msg, "training.files") != NULL, "%s", err.msg);
    unlink(path);
}

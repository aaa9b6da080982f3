#include <criterion/criterion.h>

#include "core/pw_hist.h"

Test(pw_hist, is_exact_for_small_values)
{
    pw_hist_t h;
    pw_hist_init(&h);
    for (uint64_t v = 1; v <= 50; v++)
        pw_hist_record(&h, v);
    cr_assert_eq(h.count, 50);
    cr_assert_eq(pw_hist_quantile(&h, 0.5), 25);
    cr_assert_eq(pw_hist_quantile(&h, 0.99), 50);
    cr_assert_eq(pw_hist_quantile(&h, 0.0), 1);
    cr_assert_float_eq(pw_hist_mean(&h), 25.5, 1e-9);
}

Test(pw_hist, reports_quantiles_within_three_percent_and_never_below)
{
    pw_hist_t h;
    pw_hist_init(&h);
    /* 1..100000 ns: the true p50 is 50000 and p99 is 99000. */
    for (uint64_t v = 1; v <= 100000; v++)
        pw_hist_record(&h, v);
    uint64_t p50 = pw_hist_quantile(&h, 0.5), p99 = pw_hist_quantile(&h, 0.99);
    cr_assert(p50 >= 50000 && p50 <= 50000 * 1.035, "p50 %lu", (unsigned long)p50);
    cr_assert(p99 >= 99000 && p99 <= 99000 * 1.035, "p99 %lu", (unsigned long)p99);
    cr_assert_eq(pw_hist_quantile(&h, 1.0), 100000);
}

Test(pw_hist, handles_the_largest_values_and_empty_histograms)
{
    pw_hist_t h;
    pw_hist_init(&h);
    cr_assert_eq(pw_hist_quantile(&h, 0.5), 0);
    pw_hist_record(&h, UINT64_MAX);
    pw_hist_record(&h, 0);
    cr_assert_eq(pw_hist_quantile(&h, 1.0), UINT64_MAX);
    cr_assert_eq(pw_hist_quantile(&h, 0.5), 0);
    cr_assert_eq(pw_hist_quantile(&h, 0.75), UINT64_MAX);
}

Test(pw_hist, merges_counts)
{
    pw_hist_t a, b;
    pw_hist_init(&a);
    pw_hist_init(&b);
    pw_hist_record(&a, 10);
    pw_hist_record(&b, 1000);
    pw_hist_record(&b, 2000);
    pw_hist_merge(&a, &b);
    cr_assert_eq(a.count, 3);
    cr_assert_eq(a.min_ns, 10);
    cr_assert_eq(a.max_ns, 2000);
    /* 1000 falls in the bucket [992, 1007]. */
    cr_assert_eq(pw_hist_quantile(&a, 0.5), 1007);
}

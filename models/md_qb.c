/*
 * md_qb: the quarterback at the snap. See md_qb.h.
 */
#include "models/md_qb.h"

#include <math.h>

size_t md_qb_find(const pw_frames_t *f, size_t o0, size_t o1, uint8_t offense, uint32_t centre,
                  float bx, float by, float dirx)
{
    /* In line with the ball first (|dy| < 1), then a wider look (< 2.5). */
    for (int pass = 0; pass < 2; pass++) {
        double lim = pass == 0 ? 1.0 : 2.5, best = INFINITY;
        size_t qb = o1;
        for (size_t o = o0; o < o1; o++) {
            if (f->team[o] != offense || f->entity[o] == centre || !isfinite(f->x[o]) ||
                !isfinite(f->y[o]))
                continue;
            double back = (bx - f->x[o]) * dirx, dy = fabs(f->y[o] - by);
            if (back < 0.5 || back > 9.0 || dy >= lim)
                continue;
            double d = hypot(f->x[o] - bx, f->y[o] - by);
            if (d < best) {
                best = d;
                qb = o;
            }
        }
        if (qb != o1)
            return qb;
    }
    return o1;
}

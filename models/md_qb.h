/*
 * md_qb: the quarterback at the snap, from tracking alone, as the pressure
 * and events models find him: the snapping team's player (not the centre)
 * nearest the ball among those 0.5-9 yd behind it and within 1 yd of it
 * sideways, else within 2.5 yd.
 *
 * Threads: pure.
 */
#ifndef MD_QB_H
#define MD_QB_H

#include <stddef.h>
#include <stdint.h>

#include "core/pw_record.h"

/*
 * The object index in [o0, o1) of f of the quarterback of team offense
 * (centre: the centre's entity, never chosen) for a ball at (bx, by) and
 * an offense attacking toward dirx (+1 or -1); o1 when nobody qualifies.
 */
size_t md_qb_find(const pw_frames_t *f, size_t o0, size_t o1, uint8_t offense, uint32_t centre,
                  float bx, float by, float dirx);

#endif
